{#- The quarantine's reason codes, each with what it means: the one list of them (seeds/zuora_reject_reasons.csv). -#}

with

reasons as (

    select * from {{ ref('zuora_reject_reasons') }}

),

final as (

    select
        reject_reason,
        applies_to,
        meaning
    from reasons

)

select * from final
