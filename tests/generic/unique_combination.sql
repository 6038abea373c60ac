{#-
  unique_combination: no two rows of the model share the values of `columns` (a composite key), and none of those
  values is null. Fails with one row per duplicated or incomplete key, and how often it occurs.
  The query is zuora_repeated_keys's (in an incremental build, only the keys it wrote, counted across every row).
  Its failing case: tests/python/test_data_tests_fail.py.
-#}
{% test unique_combination(model, columns) %}
    {{ zuora_repeated_keys(model, columns, null_keys='fail') }}
{% endtest %}
