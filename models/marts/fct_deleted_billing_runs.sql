{#-
  The bill runs Zuora deleted, one row each: a deletion record (AQuA's deleted flag, in an extract) removes its
  run from fct_billing_runs, whatever the dates, since Zuora never reuses a deleted run's ID. When a run's
  deletion was extracted more than once, the record of the newest file is kept.
-#}

with

deletions as (

    select * from {{ ref('int_zuora__billing_run_versions') }}
    where is_deleted and not {{ zuora_is_rejected('_reject_reasons') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by tenant, billing_run_id
            order by _source_file_order desc, _source_row_number desc
        ) as record_rank
    from deletions

),

final as (

    select
        tenant,
        billing_run_id,
        billing_run_number,
        status as last_status,
        updated_at,
        _source_file,
        _source_row_number
    from ranked
    where record_rank = 1

)

select * from final
