{#-
  Each bill run's status, Updated Date and counts, as every build found them: a new version whenever a run's
  Updated Date moves (the timestamp strategy). History starts with the first build and grows with each later one;
  a run that leaves fct_billing_runs (Zuora deleted it) has its last version closed. fct_billing_run_status_changes
  reads it.
-#}
{% snapshot snap_zuora__billing_run_status %}

{{
    config(
        schema='staging',
        unique_key=['tenant', 'billing_run_id'],
        strategy='timestamp',
        updated_at='updated_at',
        hard_deletes='invalidate',
        enabled=target.type != 'spark'
    )
}}

select
    tenant,
    billing_run_id,
    billing_run_number,
    status,
    updated_at,
    number_of_accounts,
    number_of_invoices,
    number_of_credit_memos,
    total_time_ms
from {{ ref('fct_billing_runs') }}

{% endsnapshot %}
