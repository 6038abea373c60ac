{#
  The raw relation of one Zuora export, the only way a model reads raw data (only staging calls it).
  - Real-export mode (var zuora_input = exports): the source table of that name, a view over the export files
    that already carries the lineage columns (_source_file, _source_file_order, _source_row_number, _is_new_file).
  - Demo mode (the default): the seed zuora_<export_name>_export in schema raw, with the same lineage columns.
#}
{% macro zuora_export(export_name) -%}
    {%- if var('zuora_input') == 'exports' -%}
        {{ source('zuora', export_name ~ '_export') }}
    {%- else -%}
        (
            select
                *,
                'seeds/zuora_{{ export_name }}_export.csv' as _source_file,
                1 as _source_file_order,
                true as _is_new_file,
                row_number() over () as _source_row_number
            from {{ ref('zuora_' ~ export_name ~ '_export') }}
        )
    {%- endif -%}
{%- endmacro %}
