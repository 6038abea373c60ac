with

entities as (

    select * from {{ ref('stg_zuora__entities') }}

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
        entity_updated_by_id

    from entities

)

select * from final
