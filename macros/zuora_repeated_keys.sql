{#
  The keys (a list of columns or expressions) that more than one row of `model` holds, with how often: the query of
  the unique tests (unique_per_tenant, unique_combination). A row with a null key is left out
  (`null_keys='skip'`) or reported as a failure itself (`null_keys='fail'`). In an incremental build that tests the
  rows it wrote (macro get_where_subquery), only the keys it wrote are looked at, each counted across every row.
#}
{% macro zuora_repeated_keys(model, keys, null_keys) -%}

{%- set written = zuora_written_rows_condition(model) %}

with

tested as (
    select * from {{ model }}
){% if written %},

written_now as (
    -- an incremental build that tests what it wrote: the keys it wrote, counted across every row
    select distinct
        {%- for key in keys %}
        {{ key }} as written_key_{{ loop.index }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ model }}
    where {{ written }}
){% endif %}

select
    {{ keys | join(', ') }},
    count(*) as occurrences
from tested
{%- if written %}
    inner join written_now
        on
        {%- for key in keys %}
            {% if not loop.first %}and {% endif %}{{ key }} is not distinct from written_key_{{ loop.index }}
        {%- endfor %}
{%- endif %}
{%- if null_keys == 'skip' %}
where
    {%- for key in keys %}
    {% if not loop.first %}and {% endif %}{{ key }} is not null
    {%- endfor %}
{%- endif %}
group by {{ keys | join(', ') }}
having
    count(*) > 1
    {%- if null_keys == 'fail' %}
        {%- for key in keys %}
    or {{ key }} is null
        {%- endfor %}
    {%- endif %}

{%- endmacro %}
