{#- One row: what this warehouse was built from, when, and how current its data is. -#}

with

build_input as (

    {% if var('zuora_input') == 'exports' -%}
        select built_from from {{ source('zuora', 'build_input') }}
    {%- else -%}
        select 'demo' as built_from
    {%- endif %}

),

billing_runs as (

    select * from {{ ref('fct_billing_runs') }}

),

final as (

    select
        (select build_input.built_from from build_input) as built_from,
        '{{ var("zuora_tenant_timezone") }}' as tenant_timezone,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as built_at,
        max(billing_runs.updated_at) as data_as_of,
        count(*) as bill_runs,
        {{ zuora_invocation_id() }} as dbt_invocation_id
    from billing_runs

)

select * from final
