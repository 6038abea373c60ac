{#-
  One row per row of the raw Entity export, each field renamed, cleaned and typed as in stg_zuora__billing_runs.
  No row is dropped or judged here: the quarantine's checks are in int_zuora__entity_versions. Every field is
  written out in each step; tests/python/test_columns.py keeps them in step with zuora_wh/columns.py.
-#}

with

source as (

    select * from {{ zuora_export('entity') }}

),

renamed as (

    -- the fields as written in the file (text), under our names
    select
        ---------- ids
        {{ adapter.quote('Entity: ID') }} as entity_id,
        {{ adapter.quote('Entity: Created By ID') }} as entity_created_by_id,
        {{ adapter.quote('Entity: Updated By ID') }} as entity_updated_by_id,

        ---------- text
        {{ adapter.quote('Entity: Name') }} as entity_name,
        {{ adapter.quote('Entity: Display Name') }} as entity_display_name,
        {{ adapter.quote('Entity: Email') }} as entity_email,
        {{ adapter.quote('Entity: Address 1') }} as entity_address_1,
        {{ adapter.quote('Entity: Address 2') }} as entity_address_2,
        {{ adapter.quote('Entity: City') }} as entity_city,
        {{ adapter.quote('Entity: State') }} as entity_state,
        {{ adapter.quote('Entity: Postal Code') }} as entity_postal_code,
        {{ adapter.quote('Entity: Country') }} as entity_country,

        ---------- datetimes
        {{ adapter.quote('Entity: Created Date') }} as entity_created_at,
        {{ adapter.quote('Entity: Updated Date') }} as entity_updated_at,

        ---------- the file: its tenant, the order of its slash dates, and where the row is in it
        _tenant,
        _tenant_timezone,
        _slash_date_order,
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file

    from source

),

cleaned as (

    -- trimmed, empty as null, without Zuora's CSV-injection apostrophe (zuora_clean_text); the text of a field
    -- typed next is <column>_text
    select
        ---------- ids and text
        {{ zuora_clean_text('entity_id') }} as entity_id,
        {{ zuora_clean_text('entity_created_by_id') }} as entity_created_by_id,
        {{ zuora_clean_text('entity_updated_by_id') }} as entity_updated_by_id,
        {{ zuora_clean_text('entity_name') }} as entity_name,
        {{ zuora_clean_text('entity_display_name') }} as entity_display_name,
        {{ zuora_clean_text('entity_email') }} as entity_email,
        {{ zuora_clean_text('entity_address_1') }} as entity_address_1,
        {{ zuora_clean_text('entity_address_2') }} as entity_address_2,
        {{ zuora_clean_text('entity_city') }} as entity_city,
        {{ zuora_clean_text('entity_state') }} as entity_state,
        {{ zuora_clean_text('entity_postal_code') }} as entity_postal_code,
        {{ zuora_clean_text('entity_country') }} as entity_country,

        ---------- datetimes
        {{ zuora_clean_text('entity_created_at') }} as entity_created_at_text,
        {{ zuora_clean_text('entity_updated_at') }} as entity_updated_at_text,

        ---------- the row as written, for the quarantine
        {{ zuora_struct([
            'entity_id', 'entity_name', 'entity_display_name', 'entity_email', 'entity_address_1',
            'entity_address_2', 'entity_city', 'entity_state', 'entity_postal_code', 'entity_country',
            'entity_created_at', 'entity_updated_at', 'entity_created_by_id', 'entity_updated_by_id'
        ]) }} as _raw,

        ---------- the file
        {{ zuora_tenant('_tenant') }} as tenant,
        {{ zuora_tenant_timezone('_tenant_timezone') }} as _tenant_timezone,
        _slash_date_order,
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file

    from renamed

),

typed as (

    select
        *,
        {{ zuora_parse_timestamp_utc('entity_created_at_text', '_tenant_timezone', '_slash_date_order') }}
            as entity_created_at,
        {{ zuora_parse_timestamp_utc('entity_updated_at_text', '_tenant_timezone', '_slash_date_order') }}
            as entity_updated_at
    from cleaned

),

final as (

    select
        ---------- the Entity fields, typed (zuora_wh/columns.py, in the marts' order)
        entity_id,
        entity_name,
        entity_display_name,
        entity_email,
        entity_address_1,
        entity_address_2,
        entity_city,
        entity_state,
        entity_postal_code,
        entity_country,
        entity_created_at,
        entity_updated_at,
        entity_created_by_id,
        entity_updated_by_id,

        ---------- the file's tenant
        tenant,

        ---------- the text each typed field was parsed from (the checks in int_zuora__entity_versions)
        entity_created_at_text,
        entity_updated_at_text,

        ---------- lineage, and the row as written (for the quarantine)
        _source_file,
        _source_file_order,
        _source_row_number,
        _is_new_file,
        _raw

    from typed

)

select * from final
