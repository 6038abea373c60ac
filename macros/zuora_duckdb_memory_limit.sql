{#
  The memory DuckDB may use in this build: ZUORA_DUCKDB_MEMORY_LIMIT, which `python -m zuora_wh build` sets from the
  rows of the export files unless the user set it (zuora_wh.warehouse.memory_limit). Set when dbt's run starts
  (on-run-start), not in profiles.yml: the profile is part of dbt's check of its saved parse, so a limit there that
  followed the folder would make dbt parse the whole project again (about 4 s) whenever it moved; a hook is rendered
  again each time it runs. DuckDB's limit is the database's, for every thread of the build. Spark has its own
  settings (profiles.yml): there this does nothing.
#}
{% macro zuora_duckdb_memory_limit() -%}
    {%- if target.type == 'duckdb' -%}
        set memory_limit = '{{ env_var('ZUORA_DUCKDB_MEMORY_LIMIT', '2500MB') | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}
