{#
  Parses a Zuora date field (Target Date, Invoice Date) into a date. Accepted spellings:
  - ISO 2025-01-31, as the API and AQuA write it;
  - localised UI exports: 01/31/2025 (en_US) or 31/01/2025 (en_GB), in the order order_expr names for the row
    ('MDY' or 'DMY'; staging passes _slash_date_order, which the build decides per file from the file's own dates:
    zuora_wh/input_files.py); 31.01.2025 (de); 2025/01/31 (ja).
  Anything else becomes null. text_expr is text already cleaned by zuora_clean_text (staging cleans every
  field once, then parses the cleaned text).
#}
{% macro zuora_parse_date(text_expr, order_expr) -%}
    {{ return(adapter.dispatch('zuora_parse_date', 'zuora_billing_runs')(text_expr, order_expr)) }}
{%- endmacro %}

{# The spellings of a date, in strptime's notation; {slash} stands for the day and month with slashes, in the
   row's order (zuora_slash_formats). Spark's patterns are derived from them (zuora_java_patterns). #}
{% macro zuora_date_formats() -%}
    {{ return(['%Y-%m-%d', '{slash}', '%d.%m.%Y', '%Y/%m/%d']) }}
{%- endmacro %}

{# The two readings of {slash} in a format: by the order of day and month. #}
{% macro zuora_slash_formats(format) -%}
    {{ return({'MDY': format | replace('{slash}', '%m/%d/%Y'), 'DMY': format | replace('{slash}', '%d/%m/%Y')}) }}
{%- endmacro %}

{% macro default__zuora_parse_date(text_expr, order_expr) -%}
    cast({{ zuora_first_strptime(text_expr, zuora_date_formats(), order_expr) }} as date)
{%- endmacro %}

{% macro spark__zuora_parse_date(text_expr, order_expr) -%}
    to_date({{ zuora_first_to_timestamp(text_expr, zuora_date_formats(), order_expr) }})
{%- endmacro %}
