{#-
  unique_combination: no two rows of the model share the values of `columns` (a composite key), and none of those
  values is null. Fails with one row per duplicated or incomplete key, and how often it occurs.
  Its failing case: tests/python/test_data_tests_fail.py.
-#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having
    count(*) > 1
    {%- for column in columns %}
    or {{ column }} is null
    {%- endfor %}

{% endtest %}
