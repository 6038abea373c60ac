{#
  Parses a count or a duration of a Zuora export (Number Of Accounts, Total Time, ...) into a bigint.
  Only whole numbers are accepted: '12' and ' 12 ' parse; '12.5', '1,200' and 'n/a' become null (and a
  not-null or reconciliation test then reports them). A minus sign parses, so that a negative count reaches
  the range tests instead of vanishing. text_expr is text already cleaned by zuora_clean_text.
#}
{% macro zuora_parse_integer(text_expr) -%}
    case
        when {{ zuora_regexp_full_match(text_expr, '-?[0-9]{1,18}') }}
            then cast({{ text_expr }} as bigint)
    end
{%- endmacro %}
