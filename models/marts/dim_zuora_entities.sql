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
            partition by tenant, entity_id
            order by entity_updated_at desc nulls last, _source_file_order desc, _source_row_number desc
        ) as version_rank
    from staged

),

final as (

    select
        ---------- the Entity fields (var zuora_fields)
        {{ zuora_column_list(zuora_columns('entity')) }},
        tenant,

        ---------- lineage: the export file and row this version of the entity came from
        _source_file,
        _source_row_number

    from ranked
    where version_rank = 1

)

select * from final
