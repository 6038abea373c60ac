{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        unique_key=['tenant'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=[] if target.type == 'spark' else [
            "delete from {{ this }} where tenant not in (select tenant from {{ ref('fct_billing_runs') }})"
        ]
    )
}}

{#-
  Bill-run health per tenant, entity and day: the day a run was created, in its tenant's time zone (created_date).
  Every day from the tenant's first to its last day of runs has a row for each of its entities (a date spine):
  a day without runs is a row of zero counts, with null rates and percentiles (there is nothing to measure). One
  count per status of the rule `statuses` (var zuora_rules), named <status>_runs; tests/python/test_columns.py keeps
  them in step with the rule.
  An incremental build writes every row again (each tenant's rows replace its rows; a tenant left without runs
  loses them, post_hook), but counts again only the groups (tenant, entity, day) whose runs changed: a run of
  theirs written by this build (fct_billing_runs._written_at), or a run added or gone (Zuora deleted it). Every
  other group keeps the counts and percentiles the mart holds: they are of the same runs. The spine and the
  entities' names are worked out afresh.
-#}

with

runs as {{ zuora_not_materialized() }} (

    select * from {{ ref('fct_billing_runs') }}

),

entities as (

    select * from {{ ref('dim_entities') }}

),

{% if is_incremental() %}

    group_runs as (

        -- each group's runs now, and how many of them this build wrote
        select
            tenant,
            entity_id,
            created_date as run_date,
            count(*) as bill_runs,
            count(case when _written_at = {{ zuora_build_started_at() }} then 1 end) as written_runs
        from runs
        group by 1, 2, 3

    ),

    changed as (

        -- the groups to count again: a run of theirs written now, or one added or gone since the mart counted them
        select
            group_runs.tenant,
            group_runs.entity_id,
            group_runs.run_date
        from group_runs
        left join {{ this }} as held
            on
                group_runs.tenant = held.tenant
                and group_runs.entity_id is not distinct from held.entity_id
                and group_runs.run_date = held.run_date
        where group_runs.written_runs > 0 or held.bill_runs is distinct from group_runs.bill_runs

    ),

    kept as (

        -- the other groups with runs: as the mart holds them (the columns of `daily`)
        select
            held.tenant,
            held.entity_id,
            held.run_date,
            held.bill_runs,
            held.pending_runs,
            held.processing_runs,
            held.completed_runs,
            held.error_runs,
            held.canceled_runs,
            held.posted_runs,
            held.post_in_progress_runs,
            held.cancel_in_progress_runs,
            held.remove_in_progress_runs,
            held.paused_runs,
            held.failure_rate,
            held.invoices_generated,
            held.accounts_processed,
            held.credit_memos_generated,
            held.zero_invoice_runs,
            held.catch_up_runs,
            held.processing_seconds_p50,
            held.processing_seconds_p95,
            held.queue_wait_seconds_p50,
            held.posting_lag_seconds_p50
        from {{ this }} as held
        inner join group_runs
            on
                held.tenant = group_runs.tenant
                and held.entity_id is not distinct from group_runs.entity_id
                and held.run_date = group_runs.run_date
        where group_runs.written_runs = 0 and group_runs.bill_runs = held.bill_runs

    ),

{% endif %}

daily as (

    -- the counts of each group with runs (in an incremental build, of the groups that changed, and the others kept)
    select
        runs.tenant,
        runs.entity_id,
        runs.created_date as run_date,
        count(*) as bill_runs,
        count(case when runs.status = 'Pending' then 1 end) as pending_runs,
        count(case when runs.status = 'Processing' then 1 end) as processing_runs,
        count(case when runs.status = 'Completed' then 1 end) as completed_runs,
        count(case when runs.status = 'Error' then 1 end) as error_runs,
        count(case when runs.status = 'Canceled' then 1 end) as canceled_runs,
        count(case when runs.status = 'Posted' then 1 end) as posted_runs,
        count(case when runs.status = 'PostInProgress' then 1 end) as post_in_progress_runs,
        count(case when runs.status = 'CancelInProgress' then 1 end) as cancel_in_progress_runs,
        count(case when runs.status = 'RemoveInProgress' then 1 end) as remove_in_progress_runs,
        count(case when runs.status = 'Paused' then 1 end) as paused_runs,
        cast(count(case when runs.is_failed then 1 end) as double) / count(*) as failure_rate,
        coalesce(sum(runs.number_of_invoices), 0) as invoices_generated,
        coalesce(sum(runs.number_of_accounts), 0) as accounts_processed,
        coalesce(sum(runs.number_of_credit_memos), 0) as credit_memos_generated,
        count(case when runs.number_of_invoices = 0 then 1 end) as zero_invoice_runs,
        count(
            case when {{ zuora_status_in('no_invoice_run_types', 'runs.billing_run_type') }} then 1 end
        ) as catch_up_runs,
        {{ zuora_percentile('runs.processing_seconds', 0.5) }} as processing_seconds_p50,
        {{ zuora_percentile('runs.processing_seconds', 0.95) }} as processing_seconds_p95,
        {{ zuora_percentile('runs.queue_wait_seconds', 0.5) }} as queue_wait_seconds_p50,
        {{ zuora_percentile('runs.posting_lag_seconds', 0.5) }} as posting_lag_seconds_p50
    from runs
    {% if is_incremental() -%}
        -- (a join: DuckDB plans `exists` over three keys, one of them nullable, as a slower semi join)
        inner join changed
            on
                runs.tenant = changed.tenant
                and runs.entity_id is not distinct from changed.entity_id
                and runs.created_date = changed.run_date
    {%- endif %}
    group by 1, 2, 3
    {% if is_incremental() -%}
        union all
        select * from kept
    {%- endif %}

),

tenant_days as (

    -- the tenant's first and last day of runs (from the counts: a scan of the groups, not of every run)
    select
        tenant,
        min(run_date) as first_date,
        max(run_date) as last_date
    from daily
    group by 1

),

tenant_dates as (

    -- every day of each tenant's range
    select
        tenant,
        {{ zuora_each_day('first_date', 'last_date') }} as run_date
    from tenant_days

),

run_entities as (

    -- every entity with runs in the tenant (and null, for its runs without one)
    select distinct
        tenant,
        entity_id
    from daily

),

spine as (

    select
        tenant_dates.tenant,
        run_entities.entity_id,
        tenant_dates.run_date
    from tenant_dates
    inner join run_entities on tenant_dates.tenant = run_entities.tenant

),

final as (

    -- the columns in the order of the contract (failure_rate beside the counts it is a share of)
    select  -- noqa: ST06
        spine.tenant,
        spine.entity_id,
        entities.entity_name,
        spine.run_date,
        coalesce(daily.bill_runs, 0) as bill_runs,
        coalesce(daily.pending_runs, 0) as pending_runs,
        coalesce(daily.processing_runs, 0) as processing_runs,
        coalesce(daily.completed_runs, 0) as completed_runs,
        coalesce(daily.error_runs, 0) as error_runs,
        coalesce(daily.canceled_runs, 0) as canceled_runs,
        coalesce(daily.posted_runs, 0) as posted_runs,
        coalesce(daily.post_in_progress_runs, 0) as post_in_progress_runs,
        coalesce(daily.cancel_in_progress_runs, 0) as cancel_in_progress_runs,
        coalesce(daily.remove_in_progress_runs, 0) as remove_in_progress_runs,
        coalesce(daily.paused_runs, 0) as paused_runs,
        daily.failure_rate,
        cast(coalesce(daily.invoices_generated, 0) as bigint) as invoices_generated,
        cast(coalesce(daily.accounts_processed, 0) as bigint) as accounts_processed,
        cast(coalesce(daily.credit_memos_generated, 0) as bigint) as credit_memos_generated,
        coalesce(daily.zero_invoice_runs, 0) as zero_invoice_runs,
        coalesce(daily.catch_up_runs, 0) as catch_up_runs,
        daily.processing_seconds_p50,
        daily.processing_seconds_p95,
        daily.queue_wait_seconds_p50,
        daily.posting_lag_seconds_p50
    from spine
    left join daily
        on
            spine.tenant = daily.tenant
            and spine.entity_id is not distinct from daily.entity_id
            and spine.run_date = daily.run_date
    left join entities
        on spine.tenant = entities.tenant and spine.entity_id = entities.entity_id

)

select * from final
