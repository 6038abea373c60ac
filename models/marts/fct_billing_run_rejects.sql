{#-
  The quarantine: every bill-run row that could not be trusted, with the file and row it came from, its
  reasons, and its values exactly as written. Such rows never reach fct_billing_runs, and never fail the build.
-#}

with

versions as (

    select * from {{ ref('int_zuora__billing_run_versions') }}
    where {{ zuora_is_rejected('_reject_reasons') }}

),

final as (

    select
        ---------- where and why
        _source_file,
        _source_row_number,
        _reject_reasons as reject_reasons,

        ---------- the values as written in the file (text), one column per field (var zuora_fields)
        {{ zuora_raw_values(zuora_columns('billing_run')) }},

        ---------- the file's tenant
        tenant

    from versions

)

select * from final
