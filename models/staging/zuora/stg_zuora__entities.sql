{%- set raw_columns = [
    'entity_id', 'entity_created_by_id', 'entity_updated_by_id', 'entity_name', 'entity_display_name',
    'entity_email', 'entity_address_1', 'entity_address_2', 'entity_city', 'entity_state', 'entity_postal_code',
    'entity_country', 'entity_created_at', 'entity_updated_at'
] -%}

with

source as (

    select * from {{ zuora_export('entity') }}

),

renamed as (

    select
        ----------  ids
        "Entity: ID" as entity_id,
        "Entity: Created By ID" as entity_created_by_id,
        "Entity: Updated By ID" as entity_updated_by_id,

        ---------- text
        "Entity: Name" as entity_name,
        "Entity: Display Name" as entity_display_name,
        "Entity: Email" as entity_email,
        "Entity: Address 1" as entity_address_1,
        "Entity: Address 2" as entity_address_2,
        "Entity: City" as entity_city,
        "Entity: State" as entity_state,
        "Entity: Postal Code" as entity_postal_code,
        "Entity: Country" as entity_country,

        ---------- timestamps
        "Entity: Created Date" as entity_created_at,
        "Entity: Updated Date" as entity_updated_at,

        ---------- lineage: which file and row of the export this is
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file

    from source

),

cleaned as (

    -- Every field cleaned once; the timestamps keep their cleaned text as <name>_text for the checks.
    select
        ----------  ids
        {{ zuora_clean_text('entity_id') }} as entity_id,
        {{ zuora_clean_text('entity_created_by_id') }} as entity_created_by_id,
        {{ zuora_clean_text('entity_updated_by_id') }} as entity_updated_by_id,

        ---------- text
        {{ zuora_clean_text('entity_name') }} as entity_name,
        {{ zuora_clean_text('entity_display_name') }} as entity_display_name,
        {{ zuora_clean_text('entity_email') }} as entity_email,
        {{ zuora_clean_text('entity_address_1') }} as entity_address_1,
        {{ zuora_clean_text('entity_address_2') }} as entity_address_2,
        {{ zuora_clean_text('entity_city') }} as entity_city,
        {{ zuora_clean_text('entity_state') }} as entity_state,
        {{ zuora_clean_text('entity_postal_code') }} as entity_postal_code,
        {{ zuora_clean_text('entity_country') }} as entity_country,

        ---------- timestamps: text, parsed below
        {{ zuora_clean_text('entity_created_at') }} as entity_created_at_text,
        {{ zuora_clean_text('entity_updated_at') }} as entity_updated_at_text,

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

        ---------- timestamps (UTC)
        {{ zuora_parse_timestamp_utc('entity_created_at_text') }} as entity_created_at,
        {{ zuora_parse_timestamp_utc('entity_updated_at_text') }} as entity_updated_at

    from cleaned

),

checked as (

    -- Row-level checks: each failed check adds its reason code (doc block reject_reasons).
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
            case
                when
                    {{ zuora_unparsed('entity_created_at_text', 'entity_created_at') }}
                    or {{ zuora_unparsed('entity_updated_at_text', 'entity_updated_at') }}
                    then 'unparseable_datetime'
            end
        ) as row_reasons,
        {{ zuora_row_hash(raw_columns, '_raw') }} as raw_hash
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
        {{ raw_columns | join(',\n        ') }},
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file,
        _raw,
        {{ zuora_with_duplicate_reason('entity_id') }} as _reject_reasons
    from hashed

)

select * from final
