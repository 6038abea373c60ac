{#-
  unique_per_tenant: no two rows of the same tenant share a value of the column (nulls aside). Every key of the
  warehouse is the tenant plus an ID: the same ID in two tenants is two records. Fails with one row per duplicated
  value, with its tenant and how often it occurs.
  The query is zuora_repeated_keys's (in an incremental build, only the values it wrote, counted across every row).
  Its failing case: tests/python/test_data_tests_fail.py.
-#}
{% test unique_per_tenant(model, column_name) %}
    {{ zuora_repeated_keys(model, ['tenant', column_name], null_keys='skip') }}
{% endtest %}
