{#
  Normalises Status to Zuora's API values. Exports written from the UI use labels for the newer states
  ('Post in progress', 'Cancel in progress', 'Remove in progress'), and hand-edited files change the case
  ('posted', 'POSTED'): comparison ignores case, spaces, hyphens and underscores. A value that is no known
  status is kept as written, so that the accepted-values test names it instead of it turning into null.
#}
{% macro zuora_normalize_status(text_expr) -%}
    {{ zuora_normalize_enum(text_expr, zuora_rule('statuses')) }}
{%- endmacro %}

{# Status as Zuora's UI shows it: the API value, except the in-progress states, which the UI spells out. #}
{% macro zuora_status_label(status_expr) -%}
    case {{ status_expr }}
        {%- for value, label in zuora_rule('status_ui_labels').items() %}
        when '{{ value }}' then '{{ label }}'
        {%- endfor %}
        else {{ status_expr }}
    end
{%- endmacro %}

{# Billing Run Type: 'Regular' or 'CatchUp' ('Catch Up', 'catchup' and the like are the same value). #}
{% macro zuora_normalize_billing_run_type(text_expr) -%}
    {{ zuora_normalize_enum(text_expr, zuora_rule('billing_run_types')) }}
{%- endmacro %}

{# Maps a value (text already cleaned by zuora_clean_text) to the one of api_values it spells, ignoring case, spaces,
   hyphens and underscores. #}
{% macro zuora_normalize_enum(text_expr, api_values) -%}
    {%- set key = "replace(replace(replace(lower(" ~ text_expr ~ "), ' ', ''), '_', ''), '-', '')" -%}
    case {{ key }}
        {%- for value in api_values %}
        when '{{ value | lower }}' then '{{ value }}'
        {%- endfor %}
        else {{ text_expr }}
    end
{%- endmacro %}
