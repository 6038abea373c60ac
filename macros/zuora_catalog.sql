{#
  The fields of the data source, from the one list of them (var zuora_fields in dbt_project.yml).
#}

{# The fields of one export (record: billing_run or entity), each a dict: label, api, column, type, and header, the
   column name of the raw layer (the default export header, "Billing Run: Status"). A Billing Run export also
   carries the ID of its entity, as "Entity: ID" (column entity_id). #}
{% macro zuora_export_fields(record) -%}
    {%- set objects = {'billing_run': 'Billing Run', 'entity': 'Entity'} -%}
    {%- set fields = [] -%}
    {%- for label, api, column, type in var('zuora_fields')[record] -%}
        {%- do fields.append({'label': label, 'api': api, 'column': column, 'type': type,
                              'header': objects[record] ~ ': ' ~ label}) -%}
    {%- endfor -%}
    {%- if record == 'billing_run' -%}
        {%- do fields.append(zuora_export_fields('entity') | selectattr('api', 'equalto', 'Id') | first) -%}
    {%- endif -%}
    {{ return(fields) }}
{%- endmacro %}

{# The column names of one export's fields, in order. #}
{% macro zuora_columns(record) -%}
    {{ return(zuora_export_fields(record) | map(attribute='column') | list) }}
{%- endmacro %}

{# The typed value of a field from its cleaned text (<column>_text), by the field's type. #}
{% macro zuora_typed(field) -%}
    {%- set text = field.column ~ '_text' -%}
    {%- if field.type == 'status' -%} {{ zuora_normalize_status(text) }}
    {%- elif field.type == 'run_type' -%} {{ zuora_normalize_billing_run_type(text) }}
    {%- elif field.type == 'date' -%} {{ zuora_parse_date(text) }}
    {%- elif field.type == 'datetime' -%} {{ zuora_parse_timestamp_utc(text) }}
    {%- elif field.type == 'integer' -%} {{ zuora_parse_integer(text) }}
    {%- else -%} {{ text }}
    {%- endif -%}
{%- endmacro %}

{# Every field's typed value, named by its column: "<typed expression> as <column>, ..." (see zuora_typed). #}
{% macro zuora_typed_columns(fields) -%}
    {%- for field in fields -%}
        {{ zuora_typed(field) }} as {{ field.column }}{{ ',\n        ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{# The raw value of every column, as written in the file, from the struct _raw: "_raw['<column>'] as <column>, ...". #}
{% macro zuora_raw_values(columns) -%}
    {%- for column in columns -%}
        _raw['{{ column }}'] as {{ column }}{{ ',\n        ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{# The column of fct_billing_run_daily that counts the runs in one status: PostInProgress -> post_in_progress_runs
   (zuora_wh.columns.status_column writes the same names into the YAML). #}
{% macro zuora_status_column(status) -%}
    {{ return(modules.re.sub('([a-z])([A-Z])', '\\1_\\2', status) | lower ~ '_runs') }}
{%- endmacro %}
