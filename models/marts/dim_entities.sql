with

staged as (

    -- accepted rows only: rejected ones are in audit_entity_rejects
    select * from {{ ref('int_zuora__entity_versions') }}
    where not {{ zuora_is_rejected('_reject_reasons') }}

),

ranked as (

    -- An entity exported several times (Entity exports, combined data-source files) is one entity: the latest
    -- Updated Date wins, then the newest file, then the last row of that file.
    select
        *,
        row_number() over (
            partition by tenant, entity_id
            order by entity_updated_at desc nulls last, _source_file_order desc, _source_row_number desc
        ) as version_rank
    from staged

),

final as (

    select
        ---------- the Entity fields (zuora_wh/columns.py)
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
        tenant,

        ---------- lineage: the export file and row this version of the entity came from
        _source_file,
        _source_row_number

    from ranked
    where version_rank = 1

)

select * from final
