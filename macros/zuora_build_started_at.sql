{#
  When this build started (dbt's run_started_at, UTC, to the second), as a SQL timestamp: the stamp of the rows a
  build writes (int_zuora__billing_run_versions._loaded_at, fct_billing_runs._written_at,
  fct_billing_run_status_history.recorded_at). Builds of a warehouse run one at a time and each takes more than a
  second, so no two share a stamp. An incremental build of the fact reads the versions it loaded by it, its data
  tests find the rows it wrote by it (macro get_where_subquery), and publishing fingerprints a stamped mart by its
  stamps (zuora_wh/publish.py). A macro, so that a unit test can be a given build.
#}
{% macro zuora_build_started_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
{%- endmacro %}
