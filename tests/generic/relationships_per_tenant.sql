{#-
  relationships_per_tenant: every non-null value of the column is a value of `field` in `to` for the same tenant
  (a reference within one Zuora tenant). Fails with one row per row that refers to nothing.
  Its failing case: tests/python/test_data_tests_fail.py.
-#}
{% test relationships_per_tenant(model, column_name, to, field) %}

select
    child.tenant,
    child.{{ column_name }}
from {{ model }} as child
left join {{ to }} as parent
    on child.tenant = parent.tenant and child.{{ column_name }} = parent.{{ field }}
where child.{{ column_name }} is not null and parent.{{ field }} is null

{% endtest %}
