{#
  matches_pattern: every non-null value of the column matches the regular expression `pattern` in full.
  Example: `- matches_pattern: {pattern: '[0-9a-f]{32}'}` for Zuora IDs.
  Write classes as [0-9], not \d, so that the pattern works on every adapter.
  Its failing case: tests/python/test_data_tests_fail.py.
#}
{% test matches_pattern(model, column_name, pattern) %}

select {{ column_name }} as failing_value
from {{ model }}
where
    {{ column_name }} is not null
    and not {{ zuora_regexp_full_match(column_name, pattern) }}

{% endtest %}
