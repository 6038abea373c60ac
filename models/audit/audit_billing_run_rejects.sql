{#-
  The quarantine: every bill-run row that could not be trusted, with the file and row it came from, its
  reasons, and its values exactly as written. Such rows never reach fct_billing_runs, and never fail the build.
-#}

with

versions as (

    select * from {{ ref('int_zuora__billing_run_versions') }}
    where {{ zuora_is_rejected('_reject_reasons') }}

),

final as (

    -- the columns in the order of the contract: where and why, the values as written, the tenant
    select  -- noqa: ST06
        ---------- where and why
        _source_file,
        _source_row_number,
        _reject_reasons as reject_reasons,

        ---------- the values as written in the file (text), one column per field (zuora_wh/columns.py)
        {{ zuora_row_value('_raw', 'billing_run_id') }} as billing_run_id,
        {{ zuora_row_value('_raw', 'billing_run_number') }} as billing_run_number,
        {{ zuora_row_value('_raw', 'billing_run_name') }} as billing_run_name,
        {{ zuora_row_value('_raw', 'billing_run_type') }} as billing_run_type,
        {{ zuora_row_value('_raw', 'target_type') }} as target_type,
        {{ zuora_row_value('_raw', 'status') }} as status,
        {{ zuora_row_value('_raw', 'target_date') }} as target_date,
        {{ zuora_row_value('_raw', 'invoice_date') }} as invoice_date,
        {{ zuora_row_value('_raw', 'created_at') }} as created_at,
        {{ zuora_row_value('_raw', 'executed_at') }} as executed_at,
        {{ zuora_row_value('_raw', 'started_at') }} as started_at,
        {{ zuora_row_value('_raw', 'ended_at') }} as ended_at,
        {{ zuora_row_value('_raw', 'posted_at') }} as posted_at,
        {{ zuora_row_value('_raw', 'updated_at') }} as updated_at,
        {{ zuora_row_value('_raw', 'created_by_id') }} as created_by_id,
        {{ zuora_row_value('_raw', 'updated_by_id') }} as updated_by_id,
        {{ zuora_row_value('_raw', 'error_message') }} as error_message,
        {{ zuora_row_value('_raw', 'number_of_accounts') }} as number_of_accounts,
        {{ zuora_row_value('_raw', 'number_of_invoices') }} as number_of_invoices,
        {{ zuora_row_value('_raw', 'number_of_credit_memos') }} as number_of_credit_memos,
        {{ zuora_row_value('_raw', 'total_time_ms') }} as total_time_ms,
        {{ zuora_row_value('_raw', 'entity_id') }} as entity_id,

        ---------- the file's tenant
        tenant

    from versions

)

select * from final
