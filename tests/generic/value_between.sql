{#
  value_between: every non-null value of the column lies in [min_value, max_value]; either bound may be
  left out. Example: `- value_between: {min_value: 0}` for counts that are never negative.
  Its failing case: tests/python/test_data_tests_fail.py.
#}
{% test value_between(model, column_name, min_value=none, max_value=none) %}

{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error("value_between on " ~ model ~ "." ~ column_name ~ " needs min_value or max_value") }}
{%- endif %}

select {{ column_name }} as failing_value
from {{ model }}
where
    {{ column_name }} is not null
    and (
        false
        {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
        {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
    )

{% endtest %}
