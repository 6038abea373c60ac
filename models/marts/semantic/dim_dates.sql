{#-
  One row per day from the first to the last day a bill run was created (in its tenant's time zone): the time spine
  MetricFlow needs to place metrics on `metric_time`, and a calendar for BI tools.
-#}

with

runs as (

    select * from {{ ref('fct_billing_runs') }}

),

bounds as (

    select
        min(created_date) as first_date,
        max(created_date) as last_date
    from runs

),

final as (

    select {{ zuora_each_day('first_date', 'last_date') }} as date_day
    from bounds
    where first_date is not null

)

select * from final
