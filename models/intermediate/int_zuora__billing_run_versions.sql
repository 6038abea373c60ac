{{ config(**zuora_file_versions_config()) }}

{#-
  Every bill-run row of every export file, parsed and checked once and stored: the accepted ones (all versions,
  before deduplication) and the rejected ones with their reasons (Zuora's rules, var zuora_rules; each reason is
  explained by audit.audit_reject_reasons, and their values as written in _raw). Reading the files is the expensive
  part of a build: an incremental build reads only the files that are new or changed, and replaces those files'
  rows. The marts read this table.
-#}

with

staged as (

    select * from {{ ref('stg_zuora__billing_runs') }}
    {% if is_incremental() -%}
        where _is_new_file
    {%- endif %}

),

field_checked as (

    -- the checks of a bill run's fields, each failed one adding its reason code
    select
        *,
        {{ zuora_row_hash('_raw') }} as raw_hash,
        concat_ws(
            ',',
            case
                when
                    billing_run_number is null
                    or {{ zuora_breaks_pattern('billing_run_number', 'billing_run_number_pattern') }}
                    then 'malformed_billing_run_number'
            end,
            case
                when status is null then 'missing_status'
                when not {{ zuora_status_in('statuses', 'status') }} then 'unknown_status'
            end,
            case
                when billing_run_type is null then 'missing_billing_run_type'
                when not {{ zuora_status_in('billing_run_types', 'billing_run_type') }} then 'unknown_billing_run_type'
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
                when number_of_accounts < 0 or number_of_invoices < 0 or number_of_credit_memos < 0 or total_time_ms < 0
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
            case when {{ zuora_breaks_pattern('entity_id', 'id_pattern') }} then 'malformed_entity_id' end,
            case when target_date_text is null or invoice_date_text is null then 'missing_date' end,
            case when {{ zuora_too_long('error_message') }} then 'text_too_long' end,
            case
                -- the state machine: what a run in each status can and cannot have
                when
                    {{ zuora_status_in('not_started_statuses', 'status') }}
                    and (started_at is not null or total_time_ms is not null)
                    then 'inconsistent_with_status'
                when {{ zuora_status_in('not_ended_statuses', 'status') }} and ended_at is not null
                    then 'inconsistent_with_status'
                when
                    posted_at is not null and {{ zuora_status_in('statuses', 'status') }}
                    and not {{ zuora_status_in('ever_posted_statuses', 'status') }}
                    then 'inconsistent_with_status'
                when {{ zuora_status_in('posted_date_required_statuses', 'status') }} and posted_at is null
                    then 'inconsistent_with_status'
                when {{ zuora_status_in('no_invoice_run_types', 'billing_run_type') }} and number_of_invoices > 0
                    then 'inconsistent_with_status'
            end
        ) as field_reasons
    from staged

),

row_checked as (

    -- A deletion record (AQuA's deleted flag) only says that the run is gone: its ID is all that must be right.
    select
        *,
        concat_ws(
            ',',
            case
                when billing_run_id is null then 'missing_id'
                when {{ zuora_breaks_pattern('billing_run_id', 'id_pattern') }} then 'malformed_id'
            end,
            case when is_deleted is null then 'unparseable_deleted_flag' end,
            case when not coalesce(is_deleted, false) then nullif(field_reasons, '') end
        ) as row_reasons
    from field_checked

),

carried as (

    -- What the within-file duplicate check passes on. It is a window, which holds every column it passes on, so the
    -- values as written pass as one text, and only for the rows that may be rejected: those that failed a check,
    -- and every row of a file that may hold an ID twice (_file_repeats_ids). A struct would hold a slot per field
    -- even when null. (A CTE of its own: beside the window, DuckDB would work the text out after it.)
    select
        ---------- the typed fields, the tenant, lineage, the row's own reasons and its hash
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
        tenant,
        is_deleted,
        created_date,
        _source_file,
        _source_file_order,
        _source_row_number,
        row_reasons,
        raw_hash,

        ---------- the values as written
        case when row_reasons != '' or _file_repeats_ids then {{ zuora_row_as_text('_raw') }} end as _raw
    from row_checked

),

checked as (

    -- the smallest and largest hash of the file's rows with this ID: they differ when the rows' values differ
    select
        *,
        min(raw_hash) over (partition by _source_file_order, billing_run_id) as min_hash_in_file,
        max(raw_hash) over (partition by _source_file_order, billing_run_id) as max_hash_in_file
    from carried

),

with_reasons as (

    select
        *,
        {{ zuora_with_duplicate_reason('row_reasons', 'billing_run_id', 'min_hash_in_file', 'max_hash_in_file') }}
            as _reject_reasons
    from checked

),

final as (

    select
        ---------- the typed fields of the export (zuora_wh/columns.py)
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

        ---------- the file's tenant, and whether the row is a deletion record (AQuA's deleted flag)
        tenant,
        is_deleted,
        created_date,

        ---------- lineage
        _source_file,
        _source_file_order,
        _source_row_number,
        {{ zuora_build_started_at() }} as _loaded_at,

        ---------- quarantine: the raw row is kept only for rejected rows
        _reject_reasons,
        case when {{ zuora_is_rejected('_reject_reasons') }} then _raw end as _raw

    from with_reasons

)

select * from final
