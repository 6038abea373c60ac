{#
  The hours after which a run held in a status that should pass by itself is stuck, for the tenant in tenant_expr:
  what the tenants file says for it (stuck_after_hours in its [tenant.alerts], else in its [alerts]; the build
  passes them as JSON by tenant, "*" for the others, in ZUORA_STUCK_AFTER_HOURS_BY_TENANT), else the variable
  zuora_stuck_after_hours. Tenant names are letters, digits, '.', '_' and '-' (the tenants file refuses others).
#}
{% macro zuora_stuck_after_hours(tenant_expr) -%}
    {%- set by_tenant = fromjson(env_var('ZUORA_STUCK_AFTER_HOURS_BY_TENANT', '{}')) -%}
    {%- set others = by_tenant.get('*', var('zuora_stuck_after_hours')) -%}
    {%- set named = by_tenant.items() | rejectattr(0, 'equalto', '*') | list -%}
    {%- if named -%}
        case {{ tenant_expr }}
            {%- for tenant, hours in named %} when '{{ tenant }}' then {{ hours }}{% endfor %}
            else {{ others }}
        end
    {%- else -%}
        {{ others }}
    {%- endif -%}
{%- endmacro %}
