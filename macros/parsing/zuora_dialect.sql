{#
  The dialect-specific expressions, one small macro each, dispatched per adapter so that the models stay
  plain SQL. default__ is DuckDB's, spark__ is Spark's; both run the same unit tests (make test, make test-spark;
  DECISIONLOG: Portability).
#}

{# True when the whole of expr matches the regular expression (anchored at both ends). #}
{% macro zuora_regexp_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('zuora_regexp_full_match', 'zuora_billing_runs')(expr, pattern)) }}
{%- endmacro %}

{% macro default__zuora_regexp_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{# expr without the characters of the rule space_characters (Unicode's space separators) at either end. DuckDB's
   trim() removes exactly these (a test checks it over the Basic Multilingual Plane, where they all are), and is
   four times quicker than trim() given the list; Spark's trim() does not remove the no-break space, so it is given
   the list. #}
{% macro zuora_trim(expr) -%}
    {{ return(adapter.dispatch('zuora_trim', 'zuora_billing_runs')(expr)) }}
{%- endmacro %}

{% macro default__zuora_trim(expr) -%}
    trim({{ expr }})
{%- endmacro %}

{% macro spark__zuora_trim(expr) -%}
    trim(both '{{ zuora_rule("space_characters") }}' from {{ expr }})
{%- endmacro %}

{# True when text holds ASCII characters alone (as many bytes as characters; null for null). #}
{% macro zuora_is_ascii(expr) -%}
    {{ return(adapter.dispatch('zuora_is_ascii', 'zuora_billing_runs')(expr)) }}
{%- endmacro %}

{% macro default__zuora_is_ascii(expr) -%}
    (strlen({{ expr }}) = length({{ expr }}))
{%- endmacro %}

{% macro spark__zuora_is_ascii(expr) -%}
    (octet_length({{ expr }}) = length({{ expr }}))
{%- endmacro %}

{# Said of a CTE that a model reads more than once (name as {{ zuora_not_materialized() }} (...)): DuckDB would hold
   such a CTE in memory whole, every column of every row, before its first reader (at 10M bill runs, 2.2 GB for the
   daily mart's runs); not materialized, each reader scans the table for the columns it needs. Spark inlines a CTE
   by itself. #}
{% macro zuora_not_materialized() -%}
    {{ return(adapter.dispatch('zuora_not_materialized', 'zuora_billing_runs')()) }}
{%- endmacro %}

{% macro default__zuora_not_materialized() -%}
    not materialized
{%- endmacro %}

{% macro spark__zuora_not_materialized() -%}
{%- endmacro %}

{# Seconds from start_expr to end_expr, as a fraction (null when either is null). #}
{% macro zuora_seconds_between(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('zuora_seconds_between', 'zuora_billing_runs')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__zuora_seconds_between(start_expr, end_expr) -%}
    (epoch({{ end_expr }}) - epoch({{ start_expr }}))
{%- endmacro %}


{# The calendar day of a UTC timestamp in a time zone (an IANA name, a literal or a column). #}
{% macro zuora_local_date(timestamp_expr, timezone_expr) -%}
    {{ return(adapter.dispatch('zuora_local_date', 'zuora_billing_runs')(timestamp_expr, timezone_expr)) }}
{%- endmacro %}

{% macro default__zuora_local_date(timestamp_expr, timezone_expr) -%}
    cast(timezone({{ timezone_expr }}, timezone('UTC', {{ timestamp_expr }})) as date)
{%- endmacro %}

{# One row per day from start_expr to end_expr (dates, both included): a set-returning select-list expression. #}
{% macro zuora_each_day(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('zuora_each_day', 'zuora_billing_runs')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__zuora_each_day(start_expr, end_expr) -%}
    cast(unnest(generate_series(cast({{ start_expr }} as timestamp), cast({{ end_expr }} as timestamp), interval 1 day))
        as date)
{%- endmacro %}

{# The continuous percentile (a fraction, 0 to 1) of an aggregate's values, interpolated; nulls are skipped. #}
{% macro zuora_percentile(expr, fraction) -%}
    {{ return(adapter.dispatch('zuora_percentile', 'zuora_billing_runs')(expr, fraction)) }}
{%- endmacro %}

{% macro default__zuora_percentile(expr, fraction) -%}
    quantile_cont({{ expr }}, {{ fraction }})
{%- endmacro %}

{# ---------- Spark (dbt-spark, Spark SQL 3.5) ---------- #}

{% macro spark__zuora_regexp_full_match(expr, pattern) -%}
    ({{ expr }} rlike '^(?:{{ pattern }})$')
{%- endmacro %}

{% macro spark__zuora_seconds_between(start_expr, end_expr) -%}
    ((unix_micros({{ end_expr }}) - unix_micros({{ start_expr }})) / 1000000.0d)
{%- endmacro %}

{% macro spark__zuora_local_date(timestamp_expr, timezone_expr) -%}
    to_date(from_utc_timestamp({{ timestamp_expr }}, {{ timezone_expr }}))
{%- endmacro %}

{% macro spark__zuora_each_day(start_expr, end_expr) -%}
    explode(sequence(cast({{ start_expr }} as date), cast({{ end_expr }} as date), interval 1 day))
{%- endmacro %}

{% macro spark__zuora_percentile(expr, fraction) -%}
    percentile({{ expr }}, {{ fraction }})
{%- endmacro %}

{# One row per code of a comma-separated list: a set-returning select-list expression. #}
{% macro zuora_each_code(list_expr) -%}
    {{ return(adapter.dispatch('zuora_each_code', 'zuora_billing_runs')(list_expr)) }}
{%- endmacro %}

{% macro default__zuora_each_code(list_expr) -%}
    unnest(string_split({{ list_expr }}, ','))
{%- endmacro %}

{% macro spark__zuora_each_code(list_expr) -%}
    explode(split({{ list_expr }}, ','))
{%- endmacro %}
