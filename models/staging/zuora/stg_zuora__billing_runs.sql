{%- set raw_columns = [
    'billing_run_id', 'billing_run_number', 'entity_id', 'created_by_id', 'updated_by_id', 'billing_run_name',
    'billing_run_type', 'target_type', 'status', 'error_message', 'number_of_accounts', 'number_of_invoices',
    'number_of_credit_memos', 'total_time_ms', 'target_date', 'invoice_date', 'created_at', 'executed_at',
    'started_at', 'ended_at', 'posted_at', 'updated_at'
] -%}

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

    -- Every field cleaned once (trim, empty to null, the CSV-injection apostrophe); the fields that are parsed
    -- below keep their cleaned text as <name>_text, which the checks compare with the parsed value.
    select
        ----------  ids
        {{ zuora_clean_text('billing_run_id') }} as billing_run_id,
        {{ zuora_clean_text('billing_run_number') }} as billing_run_number,
        {{ zuora_clean_text('entity_id') }} as entity_id,
        {{ zuora_clean_text('created_by_id') }} as created_by_id,
        {{ zuora_clean_text('updated_by_id') }} as updated_by_id,

        ---------- text
        {{ zuora_clean_text('billing_run_name') }} as billing_run_name,
        {{ zuora_clean_text('target_type') }} as target_type,
        {{ zuora_clean_text('error_message') }} as error_message,
        {{ zuora_clean_text('billing_run_type') }} as billing_run_type_text,
        {{ zuora_clean_text('status') }} as status_text,

        ---------- numbers, dates and timestamps: text, parsed below
        {{ zuora_clean_text('number_of_accounts') }} as number_of_accounts_text,
        {{ zuora_clean_text('number_of_invoices') }} as number_of_invoices_text,
        {{ zuora_clean_text('number_of_credit_memos') }} as number_of_credit_memos_text,
        {{ zuora_clean_text('total_time_ms') }} as total_time_ms_text,
        {{ zuora_clean_text('target_date') }} as target_date_text,
        {{ zuora_clean_text('invoice_date') }} as invoice_date_text,
        {{ zuora_clean_text('created_at') }} as created_at_text,
        {{ zuora_clean_text('executed_at') }} as executed_at_text,
        {{ zuora_clean_text('started_at') }} as started_at_text,
        {{ zuora_clean_text('ended_at') }} as ended_at_text,
        {{ zuora_clean_text('posted_at') }} as posted_at_text,
        {{ zuora_clean_text('updated_at') }} as updated_at_text,

        ---------- lineage
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file,

        ---------- the row as written, for the quarantine
        {{ zuora_struct(raw_columns) }} as _raw

    from renamed

),

typed as (

    select
        *,

        ---------- text
        {{ zuora_normalize_billing_run_type('billing_run_type_text') }} as billing_run_type,
        {{ zuora_normalize_status('status_text') }} as status,

        ---------- numbers
        {{ zuora_parse_integer('number_of_accounts_text') }} as number_of_accounts,
        {{ zuora_parse_integer('number_of_invoices_text') }} as number_of_invoices,
        {{ zuora_parse_integer('number_of_credit_memos_text') }} as number_of_credit_memos,
        {{ zuora_parse_integer('total_time_ms_text') }} as total_time_ms,

        ---------- dates
        {{ zuora_parse_date('target_date_text') }} as target_date,
        {{ zuora_parse_date('invoice_date_text') }} as invoice_date,

        ---------- timestamps (UTC)
        {{ zuora_parse_timestamp_utc('created_at_text') }} as created_at,
        {{ zuora_parse_timestamp_utc('executed_at_text') }} as executed_at,
        {{ zuora_parse_timestamp_utc('started_at_text') }} as started_at,
        {{ zuora_parse_timestamp_utc('ended_at_text') }} as ended_at,
        {{ zuora_parse_timestamp_utc('posted_at_text') }} as posted_at,
        {{ zuora_parse_timestamp_utc('updated_at_text') }} as updated_at

    from cleaned

),

checked as (

    -- Row-level checks: each failed check adds its reason code (the codes are documented in
    -- _zuora__docs.md, doc block reject_reasons). Values that could be cleaned were cleaned above.
    select
        *,
        concat_ws(
            ',',
            case
                when billing_run_id is null then 'missing_id'
                when {{ zuora_breaks_pattern('billing_run_id', 'id_pattern') }} then 'malformed_id'
            end,
            case
                when
                    billing_run_number is null
                    or {{ zuora_breaks_pattern('billing_run_number', 'billing_run_number_pattern') }}
                    then 'malformed_billing_run_number'
            end,
            case
                when status is null then 'missing_status'
                when status not in ({{ zuora_quoted_list(zuora_rule('statuses')) }}) then 'unknown_status'
            end,
            case
                when billing_run_type is null then 'missing_billing_run_type'
                when billing_run_type not in ({{ zuora_quoted_list(zuora_rule('billing_run_types')) }})
                    then 'unknown_billing_run_type'
            end,
            case
                when
                    {{ zuora_unparsed('target_date_text', 'target_date') }}
                    or {{ zuora_unparsed('invoice_date_text', 'invoice_date') }}
                    then 'unparseable_date'
            end,
            case
                when
                    {{ zuora_unparsed('created_at_text', 'created_at') }}
                    or {{ zuora_unparsed('executed_at_text', 'executed_at') }}
                    or {{ zuora_unparsed('started_at_text', 'started_at') }}
                    or {{ zuora_unparsed('ended_at_text', 'ended_at') }}
                    or {{ zuora_unparsed('posted_at_text', 'posted_at') }}
                    or {{ zuora_unparsed('updated_at_text', 'updated_at') }}
                    then 'unparseable_datetime'
            end,
            case when created_at_text is null then 'missing_created_date' end,
            case when updated_at_text is null then 'missing_updated_date' end,
            case
                when
                    {{ zuora_unparsed('number_of_accounts_text', 'number_of_accounts') }}
                    or {{ zuora_unparsed('number_of_invoices_text', 'number_of_invoices') }}
                    or {{ zuora_unparsed('number_of_credit_memos_text', 'number_of_credit_memos') }}
                    or {{ zuora_unparsed('total_time_ms_text', 'total_time_ms') }}
                    then 'non_integer_count'
            end,
            case
                when
                    number_of_accounts < 0 or number_of_invoices < 0
                    or number_of_credit_memos < 0 or total_time_ms < 0
                    then 'negative_count'
            end,
            case when ended_at < started_at then 'end_before_start' end,
            case
                when created_at > updated_at or started_at > updated_at or ended_at > updated_at
                    then 'dates_out_of_order'
            end,
            case
                when
                    created_by_id is null or {{ zuora_breaks_pattern('created_by_id', 'id_pattern') }}
                    or updated_by_id is null or {{ zuora_breaks_pattern('updated_by_id', 'id_pattern') }}
                    then 'malformed_user_id'
            end,
            case
                when {{ zuora_breaks_pattern('entity_id', 'id_pattern') }} then 'malformed_entity_id'
            end,
            case
                when
                    target_date_text is null
                    or invoice_date_text is null
                    then 'missing_date'
            end,
            case when {{ zuora_too_long('error_message') }} then 'text_too_long' end,
            case
                -- the state machine (zuora_rules): what a run in each status can and cannot have
                when {{ zuora_status_in('not_started_statuses') }} and (started_at is not null or total_time_ms is not null)
                    then 'inconsistent_with_status'
                when {{ zuora_status_in('not_ended_statuses') }} and ended_at is not null then 'inconsistent_with_status'
                when
                    posted_at is not null and {{ zuora_status_in('statuses') }}
                    and not {{ zuora_status_in('ever_posted_statuses') }}
                    then 'inconsistent_with_status'
                when status = 'Posted' and posted_at is null then 'inconsistent_with_status'
                when billing_run_type = 'CatchUp' and number_of_invoices > 0 then 'inconsistent_with_status'
            end
        ) as row_reasons,
        {{ zuora_row_hash(raw_columns, '_raw') }} as raw_hash
    from typed

),

hashed as (

    select
        *,
        {{ zuora_hash_range_in_file('billing_run_id') }}
    from checked

),

final as (

    select
        {{ raw_columns | join(',\n        ') }},
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file,
        _raw,
        {{ zuora_with_duplicate_reason('billing_run_id') }} as _reject_reasons
    from hashed

)

select * from final
