{#
  The raw relation of one Zuora export, the only way a model reads raw data (only staging calls it).
  - Demo mode (the default): the seed zuora_<export_name>_export in schema raw.
  - Real-export mode (variable zuora_export_dir set, or ZUORA_EXPORT_DIR): the source table of the same
    name, which reads the export files in place.
#}
{% macro zuora_export(export_name) -%}
    {%- if var('zuora_export_dir', '') -%}
        {{ source('zuora', export_name ~ '_export') }}
    {%- else -%}
        {{ ref('zuora_' ~ export_name ~ '_export') }}
    {%- endif -%}
{%- endmacro %}
