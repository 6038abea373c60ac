{#-
  The alert an operator wires to a schedule: bill runs that have sat in a status that should pass (the rule
  stuck_statuses: queued or under way) for longer than their tenant's threshold (zuora_stuck_after_hours: the
  tenants file's, else the variable zuora_stuck_after_hours). "Now" is the data's
  own: the tenant's latest Updated Date (DECISIONLOG: what "now" means), so that a late export does not make every
  run look stuck, and the answer is the same whenever the build runs.
-#}

with

runs as {{ zuora_not_materialized() }} (

    select * from {{ ref('fct_billing_runs') }}

),

tenant_now as (

    select
        tenant,
        max(updated_at) as data_as_of
    from runs
    group by 1

),

measured as (

    select
        runs.*,
        tenant_now.data_as_of,
        {{ zuora_seconds_between('runs.updated_at', 'tenant_now.data_as_of') }} / 3600.0 as hours_in_status
    from runs
    inner join tenant_now on runs.tenant = tenant_now.tenant
    where {{ zuora_status_in('stuck_statuses', 'runs.status') }}

),

final as (

    select
        tenant,
        billing_run_id,
        billing_run_number,
        entity_name,
        status,
        status_label,
        created_at,
        updated_at as in_status_since,
        data_as_of,
        hours_in_status
    from measured
    where hours_in_status > {{ zuora_stuck_after_hours('tenant') }}

)

select * from final
