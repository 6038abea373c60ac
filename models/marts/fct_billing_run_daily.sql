{#-
  Bill-run health per tenant, entity and day: the day a run was created, in its tenant's time zone (created_date).
  Every day from the tenant's first to its last day of runs has a row for each of its entities (a date spine):
  a day without runs is a row of zero counts, with null rates and percentiles (there is nothing to measure). One
  count per status of the rule `statuses` (var zuora_rules), named <status>_runs; tests/python/test_columns.py keeps
  them in step with the rule.
-#}

with

runs as {{ zuora_not_materialized() }} (

    select * from {{ ref('fct_billing_runs') }}

),

entities as (

    select * from {{ ref('dim_entities') }}

),

tenant_days as (

    -- the tenant's first and last day of runs
    select
        tenant,
        min(created_date) as first_date,
        max(created_date) as last_date
    from runs
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
    from runs

),

spine as (

    select
        tenant_dates.tenant,
        run_entities.entity_id,
        tenant_dates.run_date
    from tenant_dates
    inner join run_entities on tenant_dates.tenant = run_entities.tenant

),

daily as (

    select
        tenant,
        entity_id,
        created_date as run_date,
        count(*) as bill_runs,
        count(case when is_failed then 1 end) as failed_runs,
        count(case when status = 'Pending' then 1 end) as pending_runs,
        count(case when status = 'Processing' then 1 end) as processing_runs,
        count(case when status = 'Completed' then 1 end) as completed_runs,
        count(case when status = 'Error' then 1 end) as error_runs,
        count(case when status = 'Canceled' then 1 end) as canceled_runs,
        count(case when status = 'Posted' then 1 end) as posted_runs,
        count(case when status = 'PostInProgress' then 1 end) as post_in_progress_runs,
        count(case when status = 'CancelInProgress' then 1 end) as cancel_in_progress_runs,
        count(case when status = 'RemoveInProgress' then 1 end) as remove_in_progress_runs,
        count(case when status = 'Paused' then 1 end) as paused_runs,
        coalesce(sum(number_of_invoices), 0) as invoices_generated,
        coalesce(sum(number_of_accounts), 0) as accounts_processed,
        coalesce(sum(number_of_credit_memos), 0) as credit_memos_generated,
        count(case when number_of_invoices = 0 then 1 end) as zero_invoice_runs,
        count(case when {{ zuora_status_in('no_invoice_run_types', 'billing_run_type') }} then 1 end) as catch_up_runs,
        {{ zuora_percentile('processing_seconds', 0.5) }} as processing_seconds_p50,
        {{ zuora_percentile('processing_seconds', 0.95) }} as processing_seconds_p95,
        {{ zuora_percentile('queue_wait_seconds', 0.5) }} as queue_wait_seconds_p50,
        {{ zuora_percentile('posting_lag_seconds', 0.5) }} as posting_lag_seconds_p50
    from runs
    group by 1, 2, 3

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
        cast(daily.failed_runs as double) / nullif(daily.bill_runs, 0) as failure_rate,
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
