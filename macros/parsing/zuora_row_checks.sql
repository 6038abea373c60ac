{#
  Helpers of the row-level checks in staging (the quarantine). See the doc block reject_reasons.
#}

{# One of Zuora's rules for the data source's fields (var zuora_rules in dbt_project.yml, where each is written once). #}
{% macro zuora_rule(name) -%}
    {{ return(var('zuora_rules')[name]) }}
{%- endmacro %}

{# status_expr in (the values of the rule rule_name), such as not_started_statuses; status_expr can be any
   column the rule's list is of (no_invoice_run_types is of billing_run_type). #}
{% macro zuora_status_in(rule_name, status_expr='status') -%}
    {{ status_expr }} in ({{ zuora_quoted_list(zuora_rule(rule_name)) }})
{%- endmacro %}

{# True when expr holds a value that does not match the rule's pattern (null is not a mismatch). #}
{% macro zuora_breaks_pattern(expr, rule_name) -%}
    ({{ expr }} is not null and not {{ zuora_regexp_full_match(expr, zuora_rule(rule_name)) }})
{%- endmacro %}

{# True when expr is longer than Zuora's limit on text fields. #}
{% macro zuora_too_long(expr) -%}
    (length({{ expr }}) > {{ zuora_rule('max_text_length') }})
{%- endmacro %}

{# 'a', 'b', 'c' for an SQL in (...) list. #}
{% macro zuora_quoted_list(values) -%}
    {%- for value in values %}'{{ value }}'{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}

{# True when a field holds a value (its cleaned text, text_expr, is not null) but parsing it gave null. #}
{% macro zuora_unparsed(text_expr, parsed_expr) -%}
    ({{ text_expr }} is not null and {{ parsed_expr }} is null)
{%- endmacro %}

{# A hash of a row's raw values, the fields of the struct struct_name (dispatched: DuckDB's hash over all the
   fields at once, a 64-bit number that is cheap to compare). #}
{% macro zuora_row_hash(fields, struct_name) -%}
    {{ return(adapter.dispatch('zuora_row_hash', 'zuora_billing_runs')(fields, struct_name)) }}
{%- endmacro %}

{% macro default__zuora_row_hash(fields, struct_name) -%}
    hash(
        {%- for field in fields %}
        {{ struct_name }}['{{ field.column }}']{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro spark__zuora_row_hash(fields, struct_name) -%}
    xxhash64(
        {%- for field in fields %}
        {{ struct_name }}['{{ field.column }}']{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{# A struct of the fields as written in the raw layer, each under its column name (dispatched: struct_pack on
   DuckDB). #}
{% macro zuora_struct(fields) -%}
    {{ return(adapter.dispatch('zuora_struct', 'zuora_billing_runs')(fields)) }}
{%- endmacro %}

{% macro default__zuora_struct(fields) -%}
    struct_pack(
        {%- for field in fields %}
        {{ field.column }} := {{ adapter.quote(field.header) }}{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro spark__zuora_struct(fields) -%}
    named_struct(
        {%- for field in fields %}
        '{{ field.column }}', {{ adapter.quote(field.header) }}{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{# True when any field of the type holds text that does not parse as that type. #}
{% macro zuora_unparsed_any(fields, type) -%}
    (
        {%- for field in fields if field.type == type %}
        {{ 'or ' if not loop.first }}{{ zuora_unparsed(field.column ~ '_text', field.column) }}
        {%- endfor %}
    )
{%- endmacro %}

{# True when any count or duration (the integer fields) is below zero. #}
{% macro zuora_negative_any(fields) -%}
    (
        {%- for field in fields if field.type == 'integer' %}
        {{ 'or ' if not loop.first }}{{ field.column }} < 0
        {%- endfor %}
    )
{%- endmacro %}

{#
  The smallest and largest raw_hash among the rows of the same file with the same ID (min_hash, max_hash): when
  they differ, the ID appears in the file with other values. Partitioned by the file's order number (cheaper
  than its name) and by _is_new_file, which is constant per file: it lets an incremental build's filter on
  _is_new_file pass this window and reach the files, so that only new files are read.
#}
{% macro zuora_hash_range_in_file(id_column) -%}
    min(raw_hash) over (partition by _is_new_file, _source_file_order, {{ id_column }}) as min_hash,
    max(raw_hash) over (partition by _is_new_file, _source_file_order, {{ id_column }}) as max_hash
{%- endmacro %}

{#
  The reject reasons of a row: its own (row_reasons), plus duplicate_id_in_file when the same ID appears in the
  same file with other values (the window columns min_hash and max_hash of raw_hash, per file and ID, differ).
#}
{% macro zuora_with_duplicate_reason(id_column) -%}
    case
        when {{ id_column }} is not null and min_hash != max_hash
            then concat_ws(',', nullif(row_reasons, ''), 'duplicate_id_in_file')
        else row_reasons
    end
{%- endmacro %}

{#
  Whether a row goes to the quarantine: it has reject reasons, and the quarantine is on (variable
  zuora_quarantine, true by default; false lets every row through to the marts, for showing what the data
  tests catch).
#}
{% macro zuora_is_rejected(reasons_column) -%}
    {%- if var('zuora_quarantine', true) | string | lower in ('true', '1', 'yes') -%}
        ({{ reasons_column }} != '')
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}

{# A comma-separated column list, each column prefixed with relation_alias when given. #}
{% macro zuora_column_list(columns, relation_alias=none) -%}
    {%- for column in columns -%}
        {{ relation_alias ~ '.' if relation_alias }}{{ column }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
