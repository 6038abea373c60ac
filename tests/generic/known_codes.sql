{#-
  known_codes: every code in a comma-separated list column (such as reject_reasons) is one of `to`'s `field`.
  Fails with one row per unknown code and how many rows carry it.
  Its failing case: tests/python/test_data_tests_fail.py.
-#}
{% test known_codes(model, column_name, to, field) %}

with

codes as (
    select {{ zuora_each_code(column_name) }} as code
    from {{ model }}
    where {{ column_name }} != ''
)

select
    code,
    count(*) as occurrences
from codes
where code not in (select {{ field }} from {{ to }})
group by code

{% endtest %}
