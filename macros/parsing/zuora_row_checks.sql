{#
  Helpers of the row-level checks of the int models (the quarantine). See the doc block reject_reasons.
#}

{# One of Zuora's rules for the data source's fields (var zuora_rules in dbt_project.yml, where each is written once). #}
{% macro zuora_rule(name) -%}
    {{ return(var('zuora_rules')[name]) }}
{%- endmacro %}

{# status_expr in (the values of the rule rule_name), such as not_started_statuses; status_expr is the column the
   rule's list is of: a status, or billing_run_type for billing_run_types and no_invoice_run_types. #}
{% macro zuora_status_in(rule_name, status_expr) -%}
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

{# A hash of a struct (a row as written), cheap to compare (dispatched: DuckDB's hash, Spark's xxhash64). #}
{% macro zuora_row_hash(struct_expr) -%}
    {{ return(adapter.dispatch('zuora_row_hash', 'zuora_billing_runs')(struct_expr)) }}
{%- endmacro %}

{% macro default__zuora_row_hash(struct_expr) -%}
    hash({{ struct_expr }})
{%- endmacro %}

{% macro spark__zuora_row_hash(struct_expr) -%}
    xxhash64({{ struct_expr }})
{%- endmacro %}

{# A struct of the columns, each under its own name (dispatched: struct_pack on DuckDB, named_struct on
   Spark). The model writes the columns out; this only spells the struct in each dialect. #}
{% macro zuora_struct(columns) -%}
    {{ return(adapter.dispatch('zuora_struct', 'zuora_billing_runs')(columns)) }}
{%- endmacro %}

{% macro default__zuora_struct(columns) -%}
    struct_pack(
        {%- for column in columns %}
        {{ column }} := {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro spark__zuora_struct(columns) -%}
    named_struct(
        {%- for column in columns %}
        '{{ column }}', {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#
  A row as written (a struct, zuora_struct) as one JSON text, and one field's value back from that text (dispatched:
  DuckDB's to_json and json_extract_string, Spark's to_json and get_json_object). An int model keeps the raw values
  of a row in this form: one text value per row, null for the rows that need none, costs its window far less than a
  struct with a slot for every field.
#}
{% macro zuora_row_as_text(struct_expr) -%}
    {{ return(adapter.dispatch('zuora_row_as_text', 'zuora_billing_runs')(struct_expr)) }}
{%- endmacro %}

{% macro default__zuora_row_as_text(struct_expr) -%}
    cast(to_json({{ struct_expr }}) as varchar)
{%- endmacro %}

{% macro spark__zuora_row_as_text(struct_expr) -%}
    to_json({{ struct_expr }})
{%- endmacro %}

{% macro zuora_row_value(text_expr, field) -%}
    {{ return(adapter.dispatch('zuora_row_value', 'zuora_billing_runs')(text_expr, field)) }}
{%- endmacro %}

{% macro default__zuora_row_value(text_expr, field) -%}
    json_extract_string({{ text_expr }}, '$.{{ field }}')
{%- endmacro %}

{% macro spark__zuora_row_value(text_expr, field) -%}
    get_json_object({{ text_expr }}, '$.{{ field }}')
{%- endmacro %}

{#
  The reject reasons of a row (reasons_expr, its own), plus duplicate_id_in_file when the same ID (id_expr) appears in
  the same file with other values: the smallest and largest hash of those rows (min_hash_expr, max_hash_expr) differ.
#}
{% macro zuora_with_duplicate_reason(reasons_expr, id_expr, min_hash_expr, max_hash_expr) -%}
    case
        when {{ id_expr }} is not null and {{ min_hash_expr }} != {{ max_hash_expr }}
            then concat_ws(',', nullif({{ reasons_expr }}, ''), 'duplicate_id_in_file')
        else {{ reasons_expr }}
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
