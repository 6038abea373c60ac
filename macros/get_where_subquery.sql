{#
  What a generic data test reads of the model it tests: dbt's own answer (the model, filtered by the test's `where`
  config), and, in an incremental build that may test only what it wrote, only the rows it wrote.

  The build (zuora_wh/build.py) says so in ZUORA_TEST_WRITTEN_ROWS_ONLY: the stamped tables (zuora_wh/publish.py,
  STAMPED) and the column each row's build stamp is in (macro zuora_build_started_at). It does so only when the
  build is incremental and the last build of the same project and settings succeeded: every row it did not write
  passed these same tests then. A full build, a build after a failed one, a changed project, and Spark test every
  row.

  A warning-severity test is narrowed only when it found nothing the last time it ran (zuora_written_rows_condition;
  ZUORA_TESTS_THAT_WARNED names those that did find rows): an old row that fails a warning still fails it, and
  every build says so, as a full build would. Of the narrowed tests, one that looks at one row at a time and at
  nothing else (the list row_by_row) is given the rows written now. A test that compares rows with each other
  reads the whole table: the unique tests look only at the keys written now, counted across every row (macro
  zuora_repeated_keys); the row counts stay whole. A test that reads another model too (relationships, known
  codes) reads every row, since that model may have changed; so does a test added later, until it is listed.
#}
{% macro get_where_subquery(relation) -%}
    {%- set row_by_row = [
        'not_null', 'accepted_values', 'matches_pattern', 'not_after', 'null_when', 'not_null_when', 'value_between'
    ] -%}
    {%- set tested = adapter.dispatch('get_where_subquery', 'dbt')(relation) -%}
    {%- set written = zuora_written_rows_condition(relation) -%}
    {%- if written and model.test_metadata.name in row_by_row -%}
        {{ return('(select * from ' ~ tested ~ ' where ' ~ written ~ ')') }}
    {%- endif -%}
    {{ return(tested) }}
{%- endmacro %}


{#
  The SQL condition that selects the rows this build wrote in `relation`, or '' when the test being run reads every
  row of it (see get_where_subquery): a warning that found rows the last time it ran reads every row. Read only when
  dbt executes a test, never while it parses the project: the settings change from build to build, and dbt parses
  again whatever depends on a setting that changed.
#}
{% macro zuora_written_rows_condition(relation) -%}
    {%- set severity = (config.get('severity') or 'error') | lower -%}
    {%- if not execute or relation.identifier is not defined -%}
        {{ return('') }}
    {%- endif -%}
    {%- if severity != 'error' and model.name in fromjson(env_var('ZUORA_TESTS_THAT_WARNED', '') or '[]') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set stamped = fromjson(env_var('ZUORA_TEST_WRITTEN_ROWS_ONLY', '') or '{}') -%}
    {%- set column = stamped.get(relation.identifier) -%}
    {{ return(column ~ ' = ' ~ zuora_build_started_at() if column else '') }}
{%- endmacro %}
