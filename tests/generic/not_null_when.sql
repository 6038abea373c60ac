{#
  not_null_when: the column is set on every row where `condition` (a SQL expression) is true.
  Example on error_message: `- not_null_when: {condition: "status = 'Error'"}`.
  Its failing case: tests/python/test_data_tests_fail.py.
#}
{% test not_null_when(model, column_name, condition) %}

select {{ column_name }} as failing_value
from {{ model }}
where
    ({{ condition }})
    and {{ column_name }} is null

{% endtest %}
