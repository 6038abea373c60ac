{#
  row_count_matches: the model has exactly as many rows as `compare_model`; a model-level test used to
  reconcile one layer with the next (fct_billing_runs against stg_zuora__billing_runs). It returns one row,
  with both counts, when they differ.
  Its failing case: tests/python/test_data_tests_fail.py.
#}
{% test row_count_matches(model, compare_model) %}

with

counts as (
    select
        (select count(*) from {{ model }}) as model_rows,
        (select count(*) from {{ compare_model }}) as compare_model_rows
)

select *
from counts
where model_rows != compare_model_rows

{% endtest %}
