{#-
  One row per row of the raw Billing Run export: every field renamed and cleaned once (<column>_text), typed
  (<column>), and checked; then the file's tenant, and AQuA's deleted flag. The fields come from the one list of
  them (var zuora_fields, macros/zuora_catalog.sql), the checks' literals from var zuora_rules.
-#}
{%- set fields = zuora_export_fields('billing_run') -%}

with

source as (

    select * from {{ zuora_export('billing_run') }}

),

cleaned as (

    -- rename and clean (trim, empty to null, the CSV-injection apostrophe): the field's text as it is checked
    -- and parsed
    select
        {%- for field in fields %}
            {{ zuora_clean_text(adapter.quote(field.header)) }} as {{ field.column }}_text,
        {%- endfor %}
        {{ zuora_tenant() }} as tenant,
        {{ zuora_clean_text(adapter.quote(var('zuora_deleted_column'))) }} as is_deleted_text,
        {{ zuora_tenant_timezone() }} as _tenant_timezone,
        _slash_date_order,
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file,
        {{ zuora_struct(fields) }} as _raw
    from source

),

typed as (

    select
        *,
        {{ zuora_typed_columns(fields) }},
        {{ zuora_parse_deleted('is_deleted_text') }} as is_deleted
    from cleaned

),

field_checked as (

    -- the checks of a bill run's fields, each failed one adding its reason code (applied in checked)
    select
        *,
        {{ zuora_row_hash(fields, '_raw') }} as raw_hash,
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
                when not {{ zuora_status_in('statuses') }} then 'unknown_status'
            end,
            case
                when billing_run_type is null then 'missing_billing_run_type'
                when billing_run_type not in ({{ zuora_quoted_list(zuora_rule('billing_run_types')) }})
                    then 'unknown_billing_run_type'
            end,
            case when {{ zuora_unparsed_any(fields, 'date') }} then 'unparseable_date' end,
            case when {{ zuora_unparsed_any(fields, 'datetime') }} then 'unparseable_datetime' end,
            case when created_at_text is null then 'missing_created_date' end,
            case when updated_at_text is null then 'missing_updated_date' end,
            case when {{ zuora_unparsed_any(fields, 'integer') }} then 'non_integer_count' end,
            case when {{ zuora_negative_any(fields) }} then 'negative_count' end,
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
                -- the state machine (zuora_rules): what a run in each status can and cannot have
                when
                    {{ zuora_status_in('not_started_statuses') }}
                    and (started_at is not null or total_time_ms is not null)
                    then 'inconsistent_with_status'
                when {{ zuora_status_in('not_ended_statuses') }} and ended_at is not null
                    then 'inconsistent_with_status'
                when
                    posted_at is not null and {{ zuora_status_in('statuses') }}
                    and not {{ zuora_status_in('ever_posted_statuses') }}
                    then 'inconsistent_with_status'
                when {{ zuora_status_in('posted_date_required_statuses') }} and posted_at is null
                    then 'inconsistent_with_status'
                when {{ zuora_status_in('no_invoice_run_types', 'billing_run_type') }} and number_of_invoices > 0
                    then 'inconsistent_with_status'
            end
        ) as field_reasons
    from typed

),

checked as (

    -- Row-level checks: each failed check adds its reason code (dim_reject_reasons says what each means). A
    -- deletion record (AQuA's deleted flag) only says that the run is gone: its ID is all that must be right.
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

hashed as (

    select
        *,
        {{ zuora_hash_range_in_file('billing_run_id') }}
    from checked

),

final as (

    select
        {{ zuora_column_list(zuora_columns('billing_run')) }},
        tenant,
        is_deleted,
        {{ zuora_local_date('created_at', '_tenant_timezone') }} as created_date,
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file,
        _raw,
        {{ zuora_with_duplicate_reason('billing_run_id') }} as _reject_reasons
    from hashed

)

select * from final
