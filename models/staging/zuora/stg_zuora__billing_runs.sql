with

source as (

    select * from {{ zuora_export('billing_run') }}

),

renamed as (

    select
        ----------  ids
        "Billing Run: ID" as billing_run_id,
        "Billing Run: Billing Run Number" as billing_run_number,
        "Entity: ID" as entity_id,
        "Billing Run: Created By ID" as created_by_id,
        "Billing Run: Updated By ID" as updated_by_id,

        ---------- text
        "Billing Run: Name" as billing_run_name,
        "Billing Run: Billing Run Type" as billing_run_type,
        "Billing Run: Target Type" as target_type,
        "Billing Run: Status" as status,
        "Billing Run: Error Message" as error_message,

        ---------- numbers
        "Billing Run: Number Of Accounts" as number_of_accounts,
        "Billing Run: Number Of Invoices" as number_of_invoices,
        "Billing Run: Number of Credit Memos" as number_of_credit_memos,
        "Billing Run: Total Time" as total_time_ms,

        ---------- dates
        "Billing Run: Target Date" as target_date,
        "Billing Run: Invoice Date" as invoice_date,

        ---------- timestamps
        "Billing Run: Created Date" as created_at,
        "Billing Run: Executed Date" as executed_at,
        "Billing Run: Start Date" as started_at,
        "Billing Run: End Date" as ended_at,
        "Billing Run: Posted Date" as posted_at,
        "Billing Run: Updated Date" as updated_at,

        ---------- lineage: which file and row of the export this is
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file

    from source

),

cleaned as (

    select
        ----------  ids
        {{ zuora_clean_text('billing_run_id') }} as billing_run_id,
        {{ zuora_clean_text('billing_run_number') }} as billing_run_number,
        {{ zuora_clean_text('entity_id') }} as entity_id,
        {{ zuora_clean_text('created_by_id') }} as created_by_id,
        {{ zuora_clean_text('updated_by_id') }} as updated_by_id,

        ---------- text
        {{ zuora_clean_text('billing_run_name') }} as billing_run_name,
        {{ zuora_normalize_billing_run_type('billing_run_type') }} as billing_run_type,
        {{ zuora_clean_text('target_type') }} as target_type,
        {{ zuora_normalize_status('status') }} as status,
        {{ zuora_clean_text('error_message') }} as error_message,

        ---------- numbers
        {{ zuora_parse_integer('number_of_accounts') }} as number_of_accounts,
        {{ zuora_parse_integer('number_of_invoices') }} as number_of_invoices,
        {{ zuora_parse_integer('number_of_credit_memos') }} as number_of_credit_memos,
        {{ zuora_parse_integer('total_time_ms') }} as total_time_ms,

        ---------- dates
        {{ zuora_parse_date('target_date') }} as target_date,
        {{ zuora_parse_date('invoice_date') }} as invoice_date,

        ---------- timestamps (UTC)
        {{ zuora_parse_timestamp_utc('created_at') }} as created_at,
        {{ zuora_parse_timestamp_utc('executed_at') }} as executed_at,
        {{ zuora_parse_timestamp_utc('started_at') }} as started_at,
        {{ zuora_parse_timestamp_utc('ended_at') }} as ended_at,
        {{ zuora_parse_timestamp_utc('posted_at') }} as posted_at,
        {{ zuora_parse_timestamp_utc('updated_at') }} as updated_at,

        ---------- lineage
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file

    from renamed

)

select * from cleaned
