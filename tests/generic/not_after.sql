{#
  not_after: the column is never later than `other_column` of the same row, where both are set.
  Example on started_at: `- not_after: {other_column: ended_at}` (a run cannot end before it starts).
  Its failing case: tests/python/test_data_tests_fail.py.
#}
{% test not_after(model, column_name, other_column) %}

select
    {{ column_name }} as failing_value,
    {{ other_column }} as other_value
from {{ model }}
where {{ column_name }} > {{ other_column }}

{% endtest %}
