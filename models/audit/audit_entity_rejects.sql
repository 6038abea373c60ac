{#-
  The quarantine of entity rows (Entity exports and the entity columns of combined files): file, row, reasons
  and the values as written. Such rows never reach dim_entities.
-#}

with

staged as (

    select * from {{ ref('int_zuora__entity_versions') }}
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
        _raw['entity_id'] as entity_id,
        _raw['entity_name'] as entity_name,
        _raw['entity_display_name'] as entity_display_name,
        _raw['entity_email'] as entity_email,
        _raw['entity_address_1'] as entity_address_1,
        _raw['entity_address_2'] as entity_address_2,
        _raw['entity_city'] as entity_city,
        _raw['entity_state'] as entity_state,
        _raw['entity_postal_code'] as entity_postal_code,
        _raw['entity_country'] as entity_country,
        _raw['entity_created_at'] as entity_created_at,
        _raw['entity_updated_at'] as entity_updated_at,
        _raw['entity_created_by_id'] as entity_created_by_id,
        _raw['entity_updated_by_id'] as entity_updated_by_id,

        ---------- the file's tenant
        tenant

    from staged

)

select * from final
