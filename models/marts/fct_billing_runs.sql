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
    An incremental build writes again the runs that have a version in the files it loaded, and the runs whose
    entity changed; each from all of its versions, so that an older version in a later file never wins. -#}

with

versions as (

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

    to_write as (

        -- the runs with a version in the files this build loaded
        select
            tenant,
            billing_run_id
        from versions
        where _loaded_by_invocation = '{{ invocation_id }}'

        union

        -- the runs whose entity changed since they were written: its fields, or it appeared, or it is gone
        select
            written.tenant,
            written.billing_run_id
        from {{ this }} as written
        left join entities on written.tenant = entities.tenant and written.entity_id = entities.entity_id
        where written.entity_updated_at is distinct from entities.entity_updated_at

    ),

{% endif %}

ranked as (

    -- A bill run exported several times is one bill run: the latest Updated Date wins, then the newest file,
    -- then the last row of that file.
    select
        versions.*,
        row_number() over (
            partition by versions.tenant, versions.billing_run_id
            order by
                versions.updated_at desc nulls last,
                versions._source_file_order desc,
                versions._source_row_number desc
        ) as version_rank
    from versions
    {% if is_incremental() -%}
        inner join to_write
            on versions.tenant = to_write.tenant and versions.billing_run_id = to_write.billing_run_id
    {%- endif %}

),

billing_runs as (

    select * from ranked
    where
        version_rank = 1
        and not exists (
            select 1 from deleted
            where deleted.tenant = ranked.tenant and deleted.billing_run_id = ranked.billing_run_id
        )

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

        ---------- lineage: the export file and row this version of the bill run came from
        billing_runs._source_file,
        billing_runs._source_row_number

    from billing_runs
    left join entities
        on billing_runs.tenant = entities.tenant and billing_runs.entity_id = entities.entity_id

)

select * from joined
