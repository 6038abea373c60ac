{#-
  The quarantine of entity rows (Entity exports and the entity columns of combined files): file, row, reasons
  and the values as written. Such rows never reach dim_zuora_entities.
-#}

with

staged as (

    select * from {{ ref('stg_zuora__entities') }}
    where {{ zuora_is_rejected('_reject_reasons') }}

),

final as (

    select
        ---------- where and why
        _source_file,
        _source_row_number,
        _reject_reasons as reject_reasons,

        ---------- the values as written in the file (text), one column per field (var zuora_fields)
        {{ zuora_raw_values(zuora_columns('entity')) }},

        ---------- the file's tenant
        tenant

    from staged

)

select * from final
