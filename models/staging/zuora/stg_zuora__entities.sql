{#-
  One row per row of the raw Entity export, renamed, cleaned, typed and checked by the same rules as the bill runs
  (stg_zuora__billing_runs).
-#}
{%- set fields = zuora_export_fields('entity') -%}

with

source as (

    select * from {{ zuora_export('entity') }}

),

cleaned as (

    -- rename and clean: the field's text as it is checked and parsed
    select
        {%- for field in fields %}
            {{ zuora_clean_text(adapter.quote(field.header)) }} as {{ field.column }}_text,
        {%- endfor %}
        {{ zuora_tenant() }} as tenant,
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
        {{ zuora_typed_columns(fields) }}
    from cleaned

),

checked as (

    -- Row-level checks: each failed check adds its reason code (dim_reject_reasons says what each means).
    select
        *,
        concat_ws(
            ',',
            case
                when entity_id is null then 'missing_id'
                when {{ zuora_breaks_pattern('entity_id', 'id_pattern') }} then 'malformed_id'
            end,
            case
                when entity_name is null then 'missing_name'
                when {{ zuora_breaks_pattern('entity_name', 'entity_name_pattern') }} then 'malformed_name'
            end,
            case
                when
                    {{ zuora_breaks_pattern('entity_created_by_id', 'id_pattern') }}
                    or {{ zuora_breaks_pattern('entity_updated_by_id', 'id_pattern') }}
                    then 'malformed_user_id'
            end,
            case when {{ zuora_too_long('entity_display_name') }} then 'text_too_long' end,
            case when entity_created_at > entity_updated_at then 'dates_out_of_order' end,
            case when {{ zuora_unparsed_any(fields, 'datetime') }} then 'unparseable_datetime' end
        ) as row_reasons,
        {{ zuora_row_hash(fields, '_raw') }} as raw_hash
    from typed

),

hashed as (

    select
        *,
        {{ zuora_hash_range_in_file('entity_id') }}
    from checked

),

final as (

    select
        {{ zuora_column_list(zuora_columns('entity')) }},
        tenant,
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file,
        _raw,
        {{ zuora_with_duplicate_reason('entity_id') }} as _reject_reasons
    from hashed

)

select * from final
