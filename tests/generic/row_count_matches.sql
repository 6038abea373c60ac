{#
  row_count_matches: the model has exactly as many rows as `compare_model` (or, with
  `compare_distinct_column`, as that column has distinct values in `compare_model`; with `compare_where`, only
  among its rows where that SQL condition holds; with `compare_except_where` too, less the distinct values of its
  rows where that condition holds as well). A model-level test used to reconcile one layer with the next:
  fct_billing_runs holds one row per distinct accepted bill run parsed, except the runs Zuora deleted.
  It returns one row, with both counts, when they differ.
  Its failing case: tests/python/test_data_tests_fail.py.
#}
{% test row_count_matches(model, compare_model, compare_distinct_column=none, compare_where=none,
                         compare_except_where=none) %}

with

counts as (
    select
        (select count(*) from {{ model }}) as model_rows,
        (
            select
                {%- if compare_distinct_column %} count(distinct {{ compare_distinct_column }})
                {%- else %} count(*)
                {%- endif %}
            from {{ compare_model }}
            {%- if compare_where %} where {{ compare_where }}{% endif %}
        ){% if compare_except_where %} - (
            select count(distinct {{ compare_distinct_column }})
            from {{ compare_model }}
            where ({{ compare_where or 'true' }}) and ({{ compare_except_where }})
        ){% endif %} as compare_model_rows
)

select *
from counts
where model_rows != compare_model_rows

{% endtest %}
