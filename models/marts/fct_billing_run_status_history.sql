{#-
  Each bill run's status, Updated Date and counts, as every build found them in fct_billing_runs: a new version
  whenever a run's Updated Date moves forward (what a dbt snapshot's timestamp strategy records). Appended, so the
  same on DuckDB and on Spark (a snapshot needs merge, which Spark has only with Delta or Iceberg), and never
  rebuilt (full_refresh=false): a full refresh of the warehouse keeps the history. fct_billing_run_status_changes
  reads it.
-#}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='fail'
    )
}}

-- depends_on: {{ ref('stg_zuora__export_files') }} (read by an incremental build only)

with

runs as (

    select * from {{ ref('fct_billing_runs') }}
    {% if is_incremental() -%}
        -- only a run written from a file this build loaded can have a later Updated Date (every file is loaded by a
        -- full refresh): the others are not compared again
        where _source_file in (
            select files.source_file from {{ ref('stg_zuora__export_files') }} as files
            where files.is_new_file
        )
    {%- endif %}

),

recorded as (

    -- the Updated Date of each run's latest recorded version (none on the first build)
    {% if is_incremental() -%}
        select
            recorded_versions.tenant,
            recorded_versions.billing_run_id,
            max(recorded_versions.updated_at) as updated_at
        from {{ this }} as recorded_versions
        inner join runs
            on recorded_versions.tenant = runs.tenant and recorded_versions.billing_run_id = runs.billing_run_id
        group by 1, 2
    {%- else -%}
        select
            tenant,
            billing_run_id,
            updated_at
        from runs
        where false
    {%- endif %}

),

final as (

    select
        runs.tenant,
        runs.billing_run_id,
        runs.billing_run_number,
        runs.status,
        runs.updated_at,
        runs.number_of_accounts,
        runs.number_of_invoices,
        runs.number_of_credit_memos,
        runs.total_time_ms,
        {{ zuora_build_started_at() }} as recorded_at
    from runs
    left join recorded
        on
            runs.tenant = recorded.tenant
            and runs.billing_run_id = recorded.billing_run_id
    -- a run not recorded yet, or whose Updated Date moved forward since its latest version
    where recorded.updated_at is null or runs.updated_at > recorded.updated_at

)

select * from final
