{#
  This dbt invocation's ID as a SQL string: it marks the versions a build loaded (int_zuora__billing_run_versions)
  and tells an incremental build which ones are new (fct_billing_runs). A macro, so that a unit test can be the
  build that loaded given rows.
#}
{% macro zuora_invocation_id() -%}
    '{{ invocation_id }}'
{%- endmacro %}
