{#
  How the int models store every row of every export file (int_zuora__billing_run_versions,
  int_zuora__entity_versions): incremental by file, so that a build reads only the files that are new or changed,
  and replaces those files' rows. Spark has no delete+insert without Delta or Iceberg: there the new files' rows are
  appended (a changed or removed file makes the build a full refresh on both engines, so a file is never appended
  twice), and the marts, tables on Spark, deduplicate. The demo's seeds count as new at every build, so on Spark the
  demo's versions are a table.
  On DuckDB they live in a file of their own beside the build file (profiles.yml attaches it as `versions`), which
  publishing does not copy: the stored versions are the build's state, not the served warehouse, and at 10M bill runs
  they were a third of the build file a publish copied (DECISIONLOG: Publishing).
#}
{% macro zuora_file_versions_config() -%}
    {%- set spark = target.type == 'spark' -%}
    {{ return({
        'materialized': 'table' if spark and var('zuora_input') != 'exports' else 'incremental',
        'unique_key': none if spark else '_source_file',
        'incremental_strategy': 'append' if spark else 'delete+insert',
        'on_schema_change': 'fail',
        'database': none if spark else 'versions',
    }) }}
{%- endmacro %}
