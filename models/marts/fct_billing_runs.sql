{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        unique_key=['tenant', 'billing_run_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=[] if target.type == 'spark' else [
            "delete from {{ this }} where exists (select 1 from {{ ref('fct_deleted_billing_runs') }} as deleted
            where deleted.tenant = {{ this }}.tenant and deleted.billing_run_id = {{ this }}.billing_run_id)"
        ]
    )
}}

{#- The Billing Run data source: one row per bill run, its fields as staging types them, the fields of its entity
    (dim_entities), the tenant, and statistics derived for analysts. The latest accepted version of each run wins;
    a run that Zuora deleted (fct_deleted_billing_runs) is left out, and an incremental build removes it (post_hook).
    An incremental build writes again the runs whose winning version is in the files it loaded (ranked against the
    version the mart holds, so that an older version in a later file never wins), and the runs whose entity changed.
    A full build reads the accepted versions twice: to rank them by their keys alone, then for the winners'
    columns. -#}

-- depends_on: {{ ref('stg_zuora__export_files') }} (read by an incremental build only)

with

versions as {{ zuora_not_materialized() }} (

    -- accepted rows only: rejected ones are in audit_billing_run_rejects, deletion records in fct_deleted_billing_runs
    select * from {{ ref('int_zuora__billing_run_versions') }}
    where not {{ zuora_is_rejected('_reject_reasons') }} and not is_deleted

),

entities as (

    select * from {{ ref('dim_entities') }}

),

deleted as (

    select * from {{ ref('fct_deleted_billing_runs') }}

),

{% if is_incremental() %}

    loaded as (

        -- the accepted versions in the files this build loaded; a filter on a constant, so that DuckDB reads only
        -- their part of the table (a join would read every column of every version: 7 s at 10M bill runs)
        select * from versions
        where _loaded_at = {{ zuora_build_started_at() }}

    ),

{% endif %}

contenders as (

    -- The versions to rank, by their keys alone (the window holds what it passes on): every accepted version; in an
    -- incremental build, those loaded now and their runs' versions in the mart (by their file's order in this build)
    select
        tenant,
        billing_run_id,
        updated_at,
        _source_file_order,
        _source_row_number,
        true as is_loaded
    from {{ 'loaded' if is_incremental() else 'versions' }}

    {% if is_incremental() -%}
        union all

        select
            written.tenant,
            written.billing_run_id,
            written.updated_at,
            files.source_file_order as _source_file_order,
            written._source_row_number,
            false as is_loaded
        from {{ this }} as written
        inner join {{ ref('stg_zuora__export_files') }} as files on written._source_file = files.source_file
        where exists (
            select 1 from loaded
            where loaded.tenant = written.tenant and loaded.billing_run_id = written.billing_run_id
        )
    {%- endif %}

),

ranked as (

    -- A bill run exported several times is one bill run: the latest Updated Date wins, then the newest file, then
    -- the last row of that file
    select
        *,
        row_number() over (
            partition by tenant, billing_run_id
            order by updated_at desc nulls last, _source_file_order desc, _source_row_number desc
        ) as version_rank
    from contenders

),

winners as (

    -- the runs whose winning version was loaded now (in an incremental build, where the mart's version still wins,
    -- its row stays)
    select
        tenant,
        billing_run_id,
        _source_file_order,
        _source_row_number
    from ranked
    where version_rank = 1 and is_loaded

),

latest as (

    -- the runs to write: those whose winning version was loaded now, with all its columns (a full build reads the
    -- accepted versions again for them) ...
    select
        loaded.billing_run_id,
        loaded.billing_run_number,
        loaded.billing_run_name,
        loaded.billing_run_type,
        loaded.target_type,
        loaded.status,
        loaded.target_date,
        loaded.invoice_date,
        loaded.created_at,
        loaded.executed_at,
        loaded.started_at,
        loaded.ended_at,
        loaded.posted_at,
        loaded.updated_at,
        loaded.created_by_id,
        loaded.updated_by_id,
        loaded.error_message,
        loaded.number_of_accounts,
        loaded.number_of_invoices,
        loaded.number_of_credit_memos,
        loaded.total_time_ms,
        loaded.entity_id,
        loaded.tenant,
        loaded.created_date,
        loaded._source_file,
        loaded._source_row_number
    from {{ 'loaded' if is_incremental() else 'versions' }} as loaded
    inner join winners
        on
            loaded.tenant = winners.tenant
            and loaded.billing_run_id = winners.billing_run_id
            and loaded._source_file_order = winners._source_file_order
            and loaded._source_row_number = winners._source_row_number

    {% if is_incremental() -%}
        union all

        -- ... and, in an incremental build, the others whose entity changed since they were written (its fields, or
        -- it appeared, or it is gone): the version the mart holds, joined to its entity again below
        select
            written.billing_run_id,
            written.billing_run_number,
            written.billing_run_name,
            written.billing_run_type,
            written.target_type,
            written.status,
            written.target_date,
            written.invoice_date,
            written.created_at,
            written.executed_at,
            written.started_at,
            written.ended_at,
            written.posted_at,
            written.updated_at,
            written.created_by_id,
            written.updated_by_id,
            written.error_message,
            written.number_of_accounts,
            written.number_of_invoices,
            written.number_of_credit_memos,
            written.total_time_ms,
            written.entity_id,
            written.tenant,
            written.created_date,
            written._source_file,
            written._source_row_number
        from {{ this }} as written
        left join entities on written.tenant = entities.tenant and written.entity_id = entities.entity_id
        where
            written.entity_updated_at is distinct from entities.entity_updated_at
            and not exists (
                select 1 from winners
                where winners.tenant = written.tenant and winners.billing_run_id = written.billing_run_id
            )
    {%- endif %}

),

billing_runs as (

    -- without the runs Zuora deleted (a left join: DuckDB plans "not exists" here by holding every run in memory)
    select latest.* from latest
    left join deleted on latest.tenant = deleted.tenant and latest.billing_run_id = deleted.billing_run_id
    where deleted.billing_run_id is null

),

joined as (

    select
        ---------- the data source's fields: the bill run's (zuora_wh/columns.py) ...
        billing_runs.billing_run_id,
        billing_runs.billing_run_number,
        billing_runs.billing_run_name,
        billing_runs.billing_run_type,
        billing_runs.target_type,
        billing_runs.status,
        billing_runs.target_date,
        billing_runs.invoice_date,
        billing_runs.created_at,
        billing_runs.executed_at,
        billing_runs.started_at,
        billing_runs.ended_at,
        billing_runs.posted_at,
        billing_runs.updated_at,
        billing_runs.created_by_id,
        billing_runs.updated_by_id,
        billing_runs.error_message,
        billing_runs.number_of_accounts,
        billing_runs.number_of_invoices,
        billing_runs.number_of_credit_memos,
        billing_runs.total_time_ms,

        ---------- ... then its entity's (left join: a bill run without an entity is kept)
        billing_runs.entity_id,
        entities.entity_name,
        entities.entity_display_name,
        entities.entity_email,
        entities.entity_address_1,
        entities.entity_address_2,
        entities.entity_city,
        entities.entity_state,
        entities.entity_postal_code,
        entities.entity_country,
        entities.entity_created_at,
        entities.entity_updated_at,
        entities.entity_created_by_id,
        entities.entity_updated_by_id,

        ---------- the tenant: part of the key
        billing_runs.tenant,

        ---------- derived statistics
        billing_runs.created_date,
        billing_runs.total_time_ms / 1000.0 as processing_seconds,
        {{ zuora_seconds_between('billing_runs.created_at', 'billing_runs.started_at') }}
            as queue_wait_seconds,
        {{ zuora_seconds_between('billing_runs.ended_at', 'billing_runs.posted_at') }}
            as posting_lag_seconds,
        cast(billing_runs.number_of_invoices as double)
        / nullif(billing_runs.number_of_accounts, 0) as invoices_per_account,
        {{ zuora_status_label('billing_runs.status') }} as status_label,
        billing_runs.status = 'Error' as is_failed,
        billing_runs.status = 'Posted' as is_posted,
        {{ zuora_status_in('terminal_statuses', 'billing_runs.status') }} as is_terminal,
        coalesce(billing_runs.entity_id is not null and entities.entity_id is null, false) as has_unknown_entity,

        ---------- lineage: the export file and row this version of the bill run came from, and the build that
        ---------- wrote the row
        billing_runs._source_file,
        billing_runs._source_row_number,
        {{ zuora_build_started_at() }} as _written_at

    from billing_runs
    left join entities
        on billing_runs.tenant = entities.tenant and billing_runs.entity_id = entities.entity_id

)

select * from joined
