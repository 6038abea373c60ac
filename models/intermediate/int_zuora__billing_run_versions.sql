{#-
  Spark has no delete+insert without Delta or Iceberg: there the new files' rows are appended (a changed or removed
  file makes the build a full refresh on both engines, so a file is never appended twice), and fct_billing_runs,
  a table on Spark, deduplicates. The demo's seeds count as new at every build, so on Spark the demo's versions
  are a table.
-#}
{%- set spark = target.type == 'spark' -%}
{{
    config(
        materialized='table' if spark and var('zuora_input') != 'exports' else 'incremental',
        unique_key=none if spark else '_source_file',
        incremental_strategy='append' if spark else 'delete+insert',
        on_schema_change='fail'
    )
}}

{#-
  Every bill-run row of every export file, parsed once and stored: the accepted ones (all versions, before
  deduplication) and the rejected ones with their reasons. Reading and parsing the export files is the
  expensive part of a build; this table makes it happen once per file. An incremental build parses only the
  files that are new or changed (and replaces those files' rows); the marts read this table.
-#}

with

staged as (

    select * from {{ ref('stg_zuora__billing_runs') }}
    {% if is_incremental() -%}
        where _is_new_file
    {%- endif %}

),

final as (

    select
        ---------- the typed fields of the export (var zuora_fields)
        {{ zuora_column_list(zuora_columns('billing_run')) }},

        ---------- the file's tenant, and whether the row is a deletion record (AQuA's deleted flag)
        tenant,
        is_deleted,
        created_date,

        ---------- lineage
        _source_file,
        _source_file_order,
        _source_row_number,
        '{{ invocation_id }}' as _loaded_by_invocation,

        ---------- quarantine: the raw row is kept only for rejected rows
        _reject_reasons,
        case when {{ zuora_is_rejected('_reject_reasons') }} then _raw end as _raw

    from staged

)

select * from final
