{#
  Parses a Zuora date field (Target Date, Invoice Date) into a date. Accepted spellings:
  - ISO 2025-01-31, as the API and AQuA write it;
  - localised UI exports: 01/31/2025 (en_US) or 31/01/2025 (en_GB), chosen by the variable
    zuora_slash_date_order ('MDY', the default, or 'DMY'); 31.01.2025 (de); 2025/01/31 (ja).
  Anything else becomes null. text_expr is text already cleaned by zuora_clean_text (staging cleans every
  field once, then parses the cleaned text).
#}
{% macro zuora_parse_date(text_expr) -%}
    {{ return(adapter.dispatch('zuora_parse_date', 'zuora_billing_runs')(text_expr)) }}
{%- endmacro %}

{% macro zuora_slash_date_format(style) -%}
    {%- set order = var('zuora_slash_date_order', 'MDY') | upper -%}
    {%- if order not in ('MDY', 'DMY') -%}
        {{ exceptions.raise_compiler_error("zuora_slash_date_order must be 'MDY' or 'DMY', not '" ~ order ~ "'") }}
    {%- endif -%}
    {%- if style == 'strptime' -%}
        {{ '%m/%d/%Y' if order == 'MDY' else '%d/%m/%Y' }}
    {%- else -%}
        {{ 'MM/dd/yyyy' if order == 'MDY' else 'dd/MM/yyyy' }}
    {%- endif -%}
{%- endmacro %}

{# The spellings of a date, in strptime's notation (Spark's patterns are derived from them: zuora_java_patterns). #}
{% macro zuora_date_formats() -%}
    {{ return(['%Y-%m-%d', zuora_slash_date_format('strptime'), '%d.%m.%Y', '%Y/%m/%d']) }}
{%- endmacro %}

{% macro default__zuora_parse_date(text_expr) -%}
    cast({{ zuora_first_strptime(text_expr, zuora_date_formats()) }} as date)
{%- endmacro %}

{% macro spark__zuora_parse_date(text_expr) -%}
    to_date({{ zuora_first_to_timestamp(text_expr, zuora_date_formats()) }})
{%- endmacro %}

