{#- Fails (one row, the actual count) unless the model has exactly `expected` rows. -#}
{% test row_count_is(model, expected) %}

select actual_rows
from (select count(*) as actual_rows from {{ model }}) as counted
where actual_rows != {{ expected }}

{% endtest %}
