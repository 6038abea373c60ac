{#
  The raw relation of one Zuora export, the only way a model reads raw data (only staging calls it).
  - Real-export mode (var zuora_input = exports): the source table of that name, a view over the export files
    that already carries the lineage columns (_source_file, _source_file_order, _source_row_number, _is_new_file)
    and the tenant of the file's folder (_tenant, _tenant_timezone: null unless an extractor's state file names
    them; see zuora_tenant), and the order of day and month of the file's slash dates (_slash_date_order: MDY,
    DMY, or null when it has none; the build decides it from the file's own dates); a Billing Run export also has
    AQuA's deleted flag (var zuora_deleted_column), empty unless the file came from an extract that asked for
    deleted records, and whether the file may hold a Billing Run ID more than once (_file_repeats_ids, from the
    file check).
  - Demo mode (the default): the seed zuora_<export_name>_export in schema raw, with the same columns: no tenant
    named, no deleted records (Zuora's UI never exports them), IDs that may repeat (not counted), and slash dates
    month first (var zuora_slash_date_order: the generator writes en_US dates).
#}
{% macro zuora_export(export_name) -%}
    {%- if var('zuora_input') == 'exports' -%}
        {{ source('zuora', export_name ~ '_export') }}
    {%- else -%}
        (
            select
                *,
                {%- if export_name == 'billing_run' %}
                    cast(null as string) as {{ adapter.quote(var('zuora_deleted_column')) }},
                    true as _file_repeats_ids,
                {%- endif %}
                'seeds/zuora_{{ export_name }}_export.csv' as _source_file,
                1 as _source_file_order,
                true as _is_new_file,
                {{ zuora_row_number_in_file() }} as _source_row_number,
                cast(null as string) as _tenant,
                cast(null as string) as _tenant_timezone,
                '{{ var("zuora_slash_date_order") }}' as _slash_date_order
            from {{ ref('zuora_' ~ export_name ~ '_export') }}
        )
    {%- endif -%}
{%- endmacro %}

{# The tenant of a row (_tenant of the raw layer), or the default tenant when its folder names none. #}
{% macro zuora_tenant(tenant_expr) -%}
    coalesce({{ tenant_expr }}, '{{ var("zuora_default_tenant") }}')
{%- endmacro %}

{# The time zone of a row's tenant (_tenant_timezone of the raw layer), or the build's, var zuora_tenant_timezone. #}
{% macro zuora_tenant_timezone(timezone_expr) -%}
    coalesce({{ timezone_expr }}, '{{ var("zuora_tenant_timezone") }}')
{%- endmacro %}

{# The number of a row in its file, for the demo seeds: the order the rows are read in. #}
{% macro zuora_row_number_in_file() -%}
    {{ return(adapter.dispatch('zuora_row_number_in_file', 'zuora_billing_runs')()) }}
{%- endmacro %}

{% macro default__zuora_row_number_in_file() -%}
    row_number() over ()
{%- endmacro %}

{% macro spark__zuora_row_number_in_file() -%}
    row_number() over (order by monotonically_increasing_id())
{%- endmacro %}
