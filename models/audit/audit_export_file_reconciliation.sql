{#-
  Nothing lost: for each export file and each kind of record it carries, every row read is either loaded (it is
  the version in the mart), rejected (in the quarantine), superseded (another version of the same bill run
  or entity won) or deleted (a row of a bill run Zuora deleted: fct_deleted_billing_runs). rows_unaccounted must be 0: a test fails the build otherwise.
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

run_counts as (

    {{ zuora_reconciliation_counts('run_versions', 'billing_runs', 'billing_run_id', 'deleted_runs') }}

),

entity_counts as (

    {{ zuora_reconciliation_counts('entity_versions', 'entities', 'entity_id') }}

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
        coalesce(run_counts.rows_read, entity_counts.rows_read, 0) as rows_read,
        coalesce(run_counts.rows_loaded, entity_counts.rows_loaded, 0) as rows_loaded,
        coalesce(run_counts.rows_rejected, entity_counts.rows_rejected, 0) as rows_rejected,
        coalesce(run_counts.rows_superseded, entity_counts.rows_superseded, 0) as rows_superseded,
        coalesce(run_counts.rows_deleted, entity_counts.rows_deleted, 0) as rows_deleted
    from expected
    left join run_counts
        on
            expected.record_type = 'billing_run'
            and expected.source_file = run_counts.source_file
    left join entity_counts
        on
            expected.record_type = 'entity'
            and expected.source_file = entity_counts.source_file

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
