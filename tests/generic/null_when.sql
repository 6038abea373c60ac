{#
  null_when: the column is null on every row where `condition` (a SQL expression) is true.
  Example on started_at: `- null_when: {condition: "status = 'Pending'"}` (a Pending run has not started).
  Its failing case: tests/python/test_data_tests_fail.py.
#}
{% test null_when(model, column_name, condition) %}

select {{ column_name }} as failing_value
from {{ model }}
where
    ({{ condition }})
    and {{ column_name }} is not null

{% endtest %}
