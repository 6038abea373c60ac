{#
  Per export file: how many rows of `versions` (every row read, with _reject_reasons) were read, rejected,
  deleted (their record is one that `deleted`, when given, holds: a run Zuora deleted, whose every row is
  accounted for there), loaded (they are the row `mart` holds for their key) and superseded (`mart` holds another
  row for their key). The key is the tenant and `key`. Used by audit_export_file_reconciliation for bill runs and
  for entities.
#}
{% macro zuora_reconciliation_counts(versions, mart, key, deleted=none) -%}
    {%- set accepted = 'not ' ~ zuora_is_rejected(versions ~ '._reject_reasons') -%}
    {%- set kept = accepted ~ (' and ' ~ deleted ~ '.' ~ key ~ ' is null' if deleted else '') -%}
    select
        {{ versions }}._source_file as source_file,
        count(*) as rows_read,
        count(case when not ({{ accepted }}) then 1 end) as rows_rejected,
        {% if deleted -%}
            count(case when {{ accepted }} and {{ deleted }}.{{ key }} is not null then 1 end) as rows_deleted,
        {%- else -%}
            0 as rows_deleted,
        {%- endif %}
        count(
            case
                when
                    {{ kept }}
                    and {{ mart }}._source_file = {{ versions }}._source_file
                    and {{ mart }}._source_row_number = {{ versions }}._source_row_number
                    then 1
            end
        ) as rows_loaded,
        count(
            case
                when
                    {{ kept }}
                    and {{ mart }}.{{ key }} is not null
                    and (
                        {{ mart }}._source_file != {{ versions }}._source_file
                        or {{ mart }}._source_row_number != {{ versions }}._source_row_number
                    )
                    then 1
            end
        ) as rows_superseded
    from {{ versions }}
    left join {{ mart }}
        on {{ versions }}.tenant = {{ mart }}.tenant and {{ versions }}.{{ key }} = {{ mart }}.{{ key }}
    {%- if deleted %}
        left join {{ deleted }}
            on {{ versions }}.tenant = {{ deleted }}.tenant and {{ versions }}.{{ key }} = {{ deleted }}.{{ key }}
    {%- endif %}
    group by 1
{%- endmacro %}
