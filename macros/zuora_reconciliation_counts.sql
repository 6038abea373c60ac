{#
  Per export file: how many rows of `versions` (every row read, with _reject_reasons) were read, rejected,
  loaded (they are the row `mart` holds for their key) and superseded (`mart` holds another row for their key).
  Used by fct_export_file_reconciliation for bill runs and for entities.
#}
{% macro zuora_reconciliation_counts(versions, mart, key) -%}
    select
        {{ versions }}._source_file as source_file,
        count(*) as rows_read,
        count(case when {{ zuora_is_rejected(versions ~ '._reject_reasons') }} then 1 end) as rows_rejected,
        count(
            case
                when
                    not {{ zuora_is_rejected(versions ~ '._reject_reasons') }}
                    and {{ mart }}._source_file = {{ versions }}._source_file
                    and {{ mart }}._source_row_number = {{ versions }}._source_row_number
                    then 1
            end
        ) as rows_loaded,
        count(
            case
                when
                    not {{ zuora_is_rejected(versions ~ '._reject_reasons') }}
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
        on {{ versions }}.{{ key }} = {{ mart }}.{{ key }}
    group by 1
{%- endmacro %}
