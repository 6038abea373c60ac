{#-
  unique_per_tenant: no two rows of the same tenant share a value of the column (nulls aside). Every key of the
  warehouse is the tenant plus an ID: the same ID in two tenants is two records. Fails with one row per duplicated
  value, with its tenant and how often it occurs.
  Its failing case: tests/python/test_data_tests_fail.py.
-#}
{% test unique_per_tenant(model, column_name) %}

select
    tenant,
    {{ column_name }},
    count(*) as occurrences
from {{ model }}
where {{ column_name }} is not null
group by tenant, {{ column_name }}
having count(*) > 1

{% endtest %}
