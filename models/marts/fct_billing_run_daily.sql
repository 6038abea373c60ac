{#-
  Bill-run health per tenant, entity and day: the day a run was created, in its tenant's time zone (created_date).
  Every day from the tenant's first to its last day of runs has a row for each of its entities (a date spine):
  a day without runs is a row of zero counts, with null rates and percentiles (there is nothing to measure). The
  status columns follow the rule `statuses` (var zuora_rules): one count per status, named <status>_runs.
-#}
{%- set statuses = zuora_rule('statuses') -%}

with

runs as (

    select * from {{ ref('fct_billing_runs') }}

),

entities as (

    select * from {{ ref('dim_zuora_entities') }}

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
        {%- for status in statuses %}
            count(case when status = '{{ status }}' then 1 end) as {{ zuora_status_column(status) }},
        {%- endfor %}
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

    select
        spine.tenant,
        spine.entity_id,
        entities.entity_name,
        spine.run_date,
        coalesce(daily.bill_runs, 0) as bill_runs,
        {%- for status in statuses %}
            coalesce(daily.{{ zuora_status_column(status) }}, 0) as {{ zuora_status_column(status) }},
        {%- endfor %}
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
