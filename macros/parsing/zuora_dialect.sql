{#
  The dialect-specific expressions, one small macro each, dispatched per adapter so that the models stay
  plain SQL. DuckDB is the one implementation today: a second engine adds its own `<adapter>__` macros, tested
  on that engine (DECISIONLOG: Portability).
#}

{# True when the whole of expr matches the regular expression (anchored at both ends). #}
{% macro zuora_regexp_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('zuora_regexp_full_match', 'zuora_billing_runs')(expr, pattern)) }}
{%- endmacro %}

{% macro default__zuora_regexp_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{# Seconds from start_expr to end_expr, as a fraction (null when either is null). #}
{% macro zuora_seconds_between(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('zuora_seconds_between', 'zuora_billing_runs')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__zuora_seconds_between(start_expr, end_expr) -%}
    (epoch({{ end_expr }}) - epoch({{ start_expr }}))
{%- endmacro %}

