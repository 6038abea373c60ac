{#
  This dbt invocation's ID as a SQL string: the build's record names it (audit_warehouse_build.dbt_invocation_id).
  The rows a build writes carry its start instead (macro zuora_build_started_at).
#}
{% macro zuora_invocation_id() -%}
    '{{ invocation_id }}'
{%- endmacro %}
