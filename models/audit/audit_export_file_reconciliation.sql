{#-
  Nothing lost: for each export file and each kind of record it carries, every row read is either loaded (it is
  the version in the mart), rejected (in the quarantine), superseded (another version of the same bill run
  or entity won) or deleted (a row of a bill run Zuora deleted: fct_deleted_billing_runs). rows_unaccounted must be
  0: a test fails the build otherwise.
-#}

with

files as (

    select * from {{ ref('stg_zuora__export_files') }}

),

run_versions as (

    select * from {{ ref('int_zuora__billing_run_versions') }}

),

entity_versions as (

    select * from {{ ref('int_zuora__entity_versions') }}

),

billing_runs as (

    select * from {{ ref('fct_billing_runs') }}

),

deleted_runs as (

    select * from {{ ref('fct_deleted_billing_runs') }}

),

entities as (

    select * from {{ ref('dim_entities') }}

),

run_outcomes as (

    -- what became of each bill-run row: rejected; else deleted (Zuora deleted its run); else loaded (it is the
    -- version the mart holds) or superseded (the mart holds another version of its run); null: unaccounted
    select
        run_versions._source_file as source_file,
        case
            when {{ zuora_is_rejected('run_versions._reject_reasons') }} then 'rejected'
            when deleted_runs.billing_run_id is not null then 'deleted'
            when
                billing_runs._source_file = run_versions._source_file
                and billing_runs._source_row_number = run_versions._source_row_number
                then 'loaded'
            when billing_runs.billing_run_id is not null then 'superseded'
        end as outcome
    from run_versions
    left join billing_runs
        on run_versions.tenant = billing_runs.tenant and run_versions.billing_run_id = billing_runs.billing_run_id
    left join deleted_runs
        on run_versions.tenant = deleted_runs.tenant and run_versions.billing_run_id = deleted_runs.billing_run_id

),

entity_outcomes as (

    -- the same for each entity row (Zuora's deletions of entities are not exported)
    select
        entity_versions._source_file as source_file,
        case
            when {{ zuora_is_rejected('entity_versions._reject_reasons') }} then 'rejected'
            when
                entities._source_file = entity_versions._source_file
                and entities._source_row_number = entity_versions._source_row_number
                then 'loaded'
            when entities.entity_id is not null then 'superseded'
        end as outcome
    from entity_versions
    left join entities
        on entity_versions.tenant = entities.tenant and entity_versions.entity_id = entities.entity_id

),

outcome_counts as (

    select
        source_file,
        record_type,
        count(*) as rows_read,
        count(case when outcome = 'loaded' then 1 end) as rows_loaded,
        count(case when outcome = 'rejected' then 1 end) as rows_rejected,
        count(case when outcome = 'superseded' then 1 end) as rows_superseded,
        count(case when outcome = 'deleted' then 1 end) as rows_deleted
    from (
        select
            source_file,
            'billing_run' as record_type,
            outcome
        from run_outcomes
        union all
        select
            source_file,
            'entity' as record_type,
            outcome
        from entity_outcomes
    ) as outcomes
    group by 1, 2

),

expected as (

    -- which kinds of record each file carries (a header-only file carries them too, with zero rows)
    select
        source_file,
        file_kind,
        file_format,
        tenant,
        'billing_run' as record_type
    from files
    where file_kind in ('billing_run', 'combined')
    union all
    select
        source_file,
        file_kind,
        file_format,
        tenant,
        'entity' as record_type
    from files
    where file_kind in ('entity', 'combined')

),

counted as (

    select
        expected.source_file,
        expected.record_type,
        expected.file_kind,
        expected.file_format,
        expected.tenant,
        coalesce(outcome_counts.rows_read, 0) as rows_read,
        coalesce(outcome_counts.rows_loaded, 0) as rows_loaded,
        coalesce(outcome_counts.rows_rejected, 0) as rows_rejected,
        coalesce(outcome_counts.rows_superseded, 0) as rows_superseded,
        coalesce(outcome_counts.rows_deleted, 0) as rows_deleted
    from expected
    left join outcome_counts
        on expected.source_file = outcome_counts.source_file and expected.record_type = outcome_counts.record_type

),

final as (

    select
        source_file,
        record_type,
        file_kind,
        file_format,
        tenant,
        rows_read,
        rows_loaded,
        rows_rejected,
        rows_superseded,
        rows_deleted,
        rows_read - rows_loaded - rows_rejected - rows_superseded - rows_deleted as rows_unaccounted
    from counted

)

select * from final
