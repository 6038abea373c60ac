with

staged as (

    -- accepted rows only: rejected ones are in fct_entity_rejects
    select * from {{ ref('stg_zuora__entities') }}
    where not {{ zuora_is_rejected('_reject_reasons') }}

),

ranked as (

    -- An entity exported several times (Entity exports, combined data-source files) is one entity: the latest
    -- Updated Date wins, then the newest file, then the last row of that file.
    select
        *,
        row_number() over (
            partition by entity_id
            order by entity_updated_at desc nulls last, _source_file_order desc, _source_row_number desc
        ) as version_rank
    from staged

),

final as (

    select
        ----------  ids
        entity_id,

        ---------- text
        entity_name,
        entity_display_name,
        entity_email,
        entity_address_1,
        entity_address_2,
        entity_city,
        entity_state,
        entity_postal_code,
        entity_country,

        ---------- timestamps (UTC)
        entity_created_at,
        entity_updated_at,

        ----------  ids of users
        entity_created_by_id,
        entity_updated_by_id,

        ---------- lineage: the export file and row this version of the entity came from
        _source_file,
        _source_row_number

    from ranked
    where version_rank = 1

)

select * from final
