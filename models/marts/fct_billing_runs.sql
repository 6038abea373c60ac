with

billing_runs as (

    select * from {{ ref('stg_zuora__billing_runs') }}

),

entities as (

    select * from {{ ref('dim_zuora_entities') }}

),

joined as (

    select
        ---------- Billing Run fields, as the data source exports them
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

        ---------- Entity fields (left join: a bill run without an entity is kept)
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

        ---------- derived statistics
        billing_runs.total_time_ms / 1000.0 as processing_seconds,
        {{ zuora_seconds_between('billing_runs.created_at', 'billing_runs.started_at') }}
            as queue_wait_seconds,
        {{ zuora_seconds_between('billing_runs.ended_at', 'billing_runs.posted_at') }}
            as posting_lag_seconds,
        cast(billing_runs.number_of_invoices as double)
        / nullif(billing_runs.number_of_accounts, 0) as invoices_per_account,
        billing_runs.status = 'Error' as is_failed,
        billing_runs.status = 'Posted' as is_posted,
        billing_runs.status in ('Completed', 'Error', 'Canceled', 'Posted') as is_terminal

    from billing_runs
    left join entities
        on billing_runs.entity_id = entities.entity_id

)

select * from joined
