{#-
  The bill runs Zuora deleted, one row each: a deletion record removes its run from fct_billing_runs, whatever the
  dates, since Zuora never reuses a deleted run's ID. A record is AQuA's deleted flag in an extract, or the
  extractor's ID sweep (a run the folder holds that Zuora no longer has). When a run's deletion was recorded more
  than once, the record of the newest file is kept.
-#}

with

deletions as (

    select * from {{ ref('int_zuora__billing_run_versions') }}
    where is_deleted and not {{ zuora_is_rejected('_reject_reasons') }}

),

files as (

    select * from {{ ref('stg_zuora__export_files') }}

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
        ranked.tenant,
        ranked.billing_run_id,
        ranked.billing_run_number,
        ranked.status as last_status,
        ranked.updated_at,
        ranked._source_file,
        ranked._source_row_number,
        case when files.extract_kind = 'id_sweep' then 'id_sweep' else 'deleted_record' end as deletion_found_by
    from ranked
    left join files on ranked._source_file = files.source_file
    where ranked.record_rank = 1

)

select * from final
