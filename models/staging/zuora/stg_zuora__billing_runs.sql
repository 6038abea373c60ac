{#-
  One row per row of the raw Billing Run export, each field renamed, cleaned and typed, with its file's tenant and
  lineage. No row is dropped or judged here: the quarantine's checks are in int_zuora__billing_run_versions. Every
  field is written out in each step; tests/python/test_columns.py keeps them in step with zuora_wh/columns.py.
-#}

with

source as (

    select * from {{ zuora_export('billing_run') }}

),

renamed as (

    -- the fields as written in the file (text), under our names
    select
        ---------- ids
        {{ adapter.quote('Billing Run: ID') }} as billing_run_id,
        {{ adapter.quote('Billing Run: Billing Run Number') }} as billing_run_number,
        {{ adapter.quote('Entity: ID') }} as entity_id,
        {{ adapter.quote('Billing Run: Created By ID') }} as created_by_id,
        {{ adapter.quote('Billing Run: Updated By ID') }} as updated_by_id,

        ---------- text
        {{ adapter.quote('Billing Run: Name') }} as billing_run_name,
        {{ adapter.quote('Billing Run: Billing Run Type') }} as billing_run_type,
        {{ adapter.quote('Billing Run: Target Type') }} as target_type,
        {{ adapter.quote('Billing Run: Status') }} as status,
        {{ adapter.quote('Billing Run: Error Message') }} as error_message,

        ---------- dates and datetimes
        {{ adapter.quote('Billing Run: Target Date') }} as target_date,
        {{ adapter.quote('Billing Run: Invoice Date') }} as invoice_date,
        {{ adapter.quote('Billing Run: Created Date') }} as created_at,
        {{ adapter.quote('Billing Run: Executed Date') }} as executed_at,
        {{ adapter.quote('Billing Run: Start Date') }} as started_at,
        {{ adapter.quote('Billing Run: End Date') }} as ended_at,
        {{ adapter.quote('Billing Run: Posted Date') }} as posted_at,
        {{ adapter.quote('Billing Run: Updated Date') }} as updated_at,

        ---------- counts and durations
        {{ adapter.quote('Billing Run: Number Of Accounts') }} as number_of_accounts,
        {{ adapter.quote('Billing Run: Number Of Invoices') }} as number_of_invoices,
        {{ adapter.quote('Billing Run: Number of Credit Memos') }} as number_of_credit_memos,
        {{ adapter.quote('Billing Run: Total Time') }} as total_time_ms,

        ---------- AQuA's deleted flag (var zuora_deleted_column; empty in files without it)
        {{ adapter.quote(var('zuora_deleted_column')) }} as is_deleted,

        ---------- the file: its tenant, the order of its slash dates, where the row is in it, whether it repeats IDs
        _tenant,
        _tenant_timezone,
        _slash_date_order,
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file,
        _file_repeats_ids

    from source

),

cleaned as (

    -- trimmed, empty as null, without Zuora's CSV-injection apostrophe (zuora_clean_text); the text of a field
    -- typed next is <column>_text
    select
        ---------- ids and text
        {{ zuora_clean_text('billing_run_id') }} as billing_run_id,
        {{ zuora_clean_text('billing_run_number') }} as billing_run_number,
        {{ zuora_clean_text('entity_id') }} as entity_id,
        {{ zuora_clean_text('created_by_id') }} as created_by_id,
        {{ zuora_clean_text('updated_by_id') }} as updated_by_id,
        {{ zuora_clean_text('billing_run_name') }} as billing_run_name,
        {{ zuora_clean_text('billing_run_type') }} as billing_run_type_text,
        {{ zuora_clean_text('target_type') }} as target_type,
        {{ zuora_clean_text('status') }} as status_text,
        {{ zuora_clean_text('error_message') }} as error_message,

        ---------- dates and datetimes
        {{ zuora_clean_text('target_date') }} as target_date_text,
        {{ zuora_clean_text('invoice_date') }} as invoice_date_text,
        {{ zuora_clean_text('created_at') }} as created_at_text,
        {{ zuora_clean_text('executed_at') }} as executed_at_text,
        {{ zuora_clean_text('started_at') }} as started_at_text,
        {{ zuora_clean_text('ended_at') }} as ended_at_text,
        {{ zuora_clean_text('posted_at') }} as posted_at_text,
        {{ zuora_clean_text('updated_at') }} as updated_at_text,

        ---------- counts and durations
        {{ zuora_clean_text('number_of_accounts') }} as number_of_accounts_text,
        {{ zuora_clean_text('number_of_invoices') }} as number_of_invoices_text,
        {{ zuora_clean_text('number_of_credit_memos') }} as number_of_credit_memos_text,
        {{ zuora_clean_text('total_time_ms') }} as total_time_ms_text,
        {{ zuora_clean_text('is_deleted') }} as is_deleted_text,

        ---------- the row as written, for the quarantine
        {{ zuora_struct([
            'billing_run_id', 'billing_run_number', 'billing_run_name', 'billing_run_type', 'target_type',
            'status', 'target_date', 'invoice_date', 'created_at', 'executed_at', 'started_at', 'ended_at',
            'posted_at', 'updated_at', 'created_by_id', 'updated_by_id', 'error_message', 'number_of_accounts',
            'number_of_invoices', 'number_of_credit_memos', 'total_time_ms', 'entity_id'
        ]) }} as _raw,

        ---------- the file
        {{ zuora_tenant('_tenant') }} as tenant,
        {{ zuora_tenant_timezone('_tenant_timezone') }} as _tenant_timezone,
        _slash_date_order,
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file,
        _file_repeats_ids

    from renamed

),

typed as (

    select
        *,
        {{ zuora_normalize_status('status_text') }} as status,
        {{ zuora_normalize_billing_run_type('billing_run_type_text') }} as billing_run_type,
        {{ zuora_parse_date('target_date_text', '_slash_date_order') }} as target_date,
        {{ zuora_parse_date('invoice_date_text', '_slash_date_order') }} as invoice_date,
        {{ zuora_parse_timestamp_utc('created_at_text', '_tenant_timezone', '_slash_date_order') }} as created_at,
        {{ zuora_parse_timestamp_utc('executed_at_text', '_tenant_timezone', '_slash_date_order') }} as executed_at,
        {{ zuora_parse_timestamp_utc('started_at_text', '_tenant_timezone', '_slash_date_order') }} as started_at,
        {{ zuora_parse_timestamp_utc('ended_at_text', '_tenant_timezone', '_slash_date_order') }} as ended_at,
        {{ zuora_parse_timestamp_utc('posted_at_text', '_tenant_timezone', '_slash_date_order') }} as posted_at,
        {{ zuora_parse_timestamp_utc('updated_at_text', '_tenant_timezone', '_slash_date_order') }} as updated_at,
        {{ zuora_parse_integer('number_of_accounts_text') }} as number_of_accounts,
        {{ zuora_parse_integer('number_of_invoices_text') }} as number_of_invoices,
        {{ zuora_parse_integer('number_of_credit_memos_text') }} as number_of_credit_memos,
        {{ zuora_parse_integer('total_time_ms_text') }} as total_time_ms,
        {{ zuora_parse_deleted('is_deleted_text') }} as is_deleted
    from cleaned

),

final as (

    select
        ---------- the fields of the data source, typed (zuora_wh/columns.py, in the marts' order)
        billing_run_id,
        billing_run_number,
        billing_run_name,
        billing_run_type,
        target_type,
        status,
        target_date,
        invoice_date,
        created_at,
        executed_at,
        started_at,
        ended_at,
        posted_at,
        updated_at,
        created_by_id,
        updated_by_id,
        error_message,
        number_of_accounts,
        number_of_invoices,
        number_of_credit_memos,
        total_time_ms,
        entity_id,

        ---------- the file's tenant, whether the row is a deletion record, and the run's day in the tenant's zone
        tenant,
        is_deleted,
        {{ zuora_local_date('created_at', '_tenant_timezone') }} as created_date,

        ---------- the text each typed field was parsed from (the checks in int_zuora__billing_run_versions)
        target_date_text,
        invoice_date_text,
        created_at_text,
        executed_at_text,
        started_at_text,
        ended_at_text,
        posted_at_text,
        updated_at_text,
        number_of_accounts_text,
        number_of_invoices_text,
        number_of_credit_memos_text,
        total_time_ms_text,

        ---------- lineage, and the row as written (for the quarantine)
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file,
        _file_repeats_ids,
        _raw

    from typed

)

select * from final
