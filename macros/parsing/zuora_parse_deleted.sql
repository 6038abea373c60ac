{#
  AQuA's deleted flag (var zuora_deleted_column, format Boolean): true or false whatever the case, false when
  the column is empty or absent (a record of a bill run that exists), null when it is neither (a reject reason).
  text_expr is text already cleaned by zuora_clean_text.
#}
{% macro zuora_parse_deleted(text_expr) -%}
    case
        when {{ text_expr }} is null then false
        when lower({{ text_expr }}) = 'true' then true
        when lower({{ text_expr }}) = 'false' then false
    end
{%- endmacro %}
