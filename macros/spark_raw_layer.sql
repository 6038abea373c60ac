{#
  Spark, real-export mode: the build lays its raw layer (schema raw) over the export files before any model runs
  (on-run-start). `python -m zuora_wh build --target spark` checks the files and writes the statements, one JSON
  object per line ({"n": order, "statement": SQL}), to the file that ZUORA_SPARK_RAW_LAYER names (as Spark takes a
  path: glob characters escaped); the one writer of the raw layer for both engines is zuora_wh/raw_layer.py
  (statements). Spark reads that file and each statement runs in order. On DuckDB, and for the demo, this does
  nothing: there the build lays the views before dbt starts, and the demo's raw layer is the seeds.
#}
{% macro zuora_spark_raw_layer() %}
    {%- set statements_file = env_var('ZUORA_SPARK_RAW_LAYER', '') -%}
    {%- if execute and target.type == 'spark' and var('zuora_input') == 'exports' -%}
        {%- if not statements_file -%}
            {{ exceptions.raise_compiler_error(
                'a build of export files on Spark runs through `python -m zuora_wh build --target spark`, which '
                ~ 'checks the files and writes the raw layer for Spark (ZUORA_SPARK_RAW_LAYER is not set)') }}
        {%- endif -%}
        {%- set found = run_query(
            'select statement from json.`' ~ statements_file | replace('`', '``') ~ '` order by n') -%}
        {%- for row in found.rows -%}
            {%- do run_query(row[0]) -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
