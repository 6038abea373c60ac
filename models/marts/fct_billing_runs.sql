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

{#- The fields of one bill run as staging types them (var zuora_fields: the Billing Run fields and the ID of its
    entity; the entity's other fields come from the dim), its tenant, and the file and row they came from. A run
    that Zuora deleted (fct_deleted_billing_runs) is left out; an incremental build removes it (post_hook). -#}
{%- set run_columns = zuora_columns('billing_run')
    + ['tenant', 'created_date', '_source_file', '_source_row_number'] -%}
{%- set entity_columns = zuora_columns('entity') -%}

with

staged as (

    -- accepted rows only: rejected ones are in fct_billing_run_rejects, deletion records in fct_deleted_billing_runs
    select * from {{ ref('int_zuora__billing_run_versions') }}
    where
        not {{ zuora_is_rejected('_reject_reasons') }}
        and not is_deleted
        -- incremental: only the rows of the files parsed by this build
        and (not {{ is_incremental() }} or _loaded_by_invocation = '{{ invocation_id }}')

),

ranked as (

    -- A bill run exported several times is one bill run: the latest Updated Date wins, then the newest file,
    -- then the last row of that file.
    select
        *,
        row_number() over (
            partition by tenant, billing_run_id
            order by updated_at desc nulls last, _source_file_order desc, _source_row_number desc
        ) as version_rank
    from staged

),

deleted as (

    select * from {{ ref('fct_deleted_billing_runs') }}

),

latest as (

    select {{ zuora_column_list(run_columns, 'ranked') }}
    from ranked
    where
        ranked.version_rank = 1
        and not exists (
            select 1 from deleted
            where deleted.tenant = ranked.tenant and deleted.billing_run_id = ranked.billing_run_id
        )

),

entities as (

    select * from {{ ref('dim_zuora_entities') }}

),

existing as (

    -- what the mart holds already (nothing on a full build)
    {% if is_incremental() -%}
        select {{ zuora_column_list(run_columns) }}, entity_updated_at from {{ this }}
    {%- else -%}
        select {{ zuora_column_list(run_columns) }}, cast(null as timestamp) as entity_updated_at from latest
        where false
    {%- endif %}

),

changed_entities as (

    -- entities whose fields changed since their bill runs were last written, that appeared (the runs had an
    -- unknown entity) or that are gone from the entity exports
    select distinct
        existing.tenant,
        existing.entity_id
    from existing
    left join entities on existing.tenant = entities.tenant and existing.entity_id = entities.entity_id
    where existing.entity_updated_at is distinct from entities.entity_updated_at

),

billing_runs as (

    -- new versions win over what the mart holds only when they are not older
    select latest.*
    from latest
    left join existing on latest.tenant = existing.tenant and latest.billing_run_id = existing.billing_run_id
    where existing.billing_run_id is null or latest.updated_at >= existing.updated_at

    union all

    -- runs that did not change, but whose entity did: written again with the entity's new fields
    select {{ zuora_column_list(run_columns, 'existing') }}
    from existing
    inner join changed_entities
        on existing.tenant = changed_entities.tenant and existing.entity_id = changed_entities.entity_id
    left join latest on existing.tenant = latest.tenant and existing.billing_run_id = latest.billing_run_id
    where latest.billing_run_id is null

),

joined as (

    select
        ---------- the data source's fields: the bill run's, then its entity's (var zuora_fields; left join: a
        ---------- bill run without an entity is kept)
        {%- for column in zuora_columns('billing_run') if column not in entity_columns %}
            billing_runs.{{ column }},
        {%- endfor %}
        billing_runs.entity_id,
        {%- for column in entity_columns if column != 'entity_id' %}
            entities.{{ column }},
        {%- endfor %}

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
