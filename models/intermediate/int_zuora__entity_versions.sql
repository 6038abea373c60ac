{{ config(**zuora_file_versions_config()) }}

{#-
  Every entity row of every export file, checked: the accepted ones (all versions, before deduplication) and the
  rejected ones with their reasons, by the same rules as the bill runs (int_zuora__billing_run_versions). Stored,
  and an incremental build reads only the files that are new or changed: a scheduled refresh adds a file with
  entity columns at every run (the extractor's bill runs carry their entity's fields), and reading every one of
  them again at each build would grow without end. dim_entities and the quarantine read it.
-#}

with

staged as (

    select * from {{ ref('stg_zuora__entities') }}
    {% if is_incremental() -%}
        where _is_new_file
    {%- endif %}

),

checked as (

    -- the checks of an entity's fields, each failed one adding its reason code
    select
        *,
        concat_ws(
            ',',
            case
                when entity_id is null then 'missing_id'
                when {{ zuora_breaks_pattern('entity_id', 'id_pattern') }} then 'malformed_id'
            end,
            case
                when entity_name is null then 'missing_name'
                when {{ zuora_breaks_pattern('entity_name', 'entity_name_pattern') }} then 'malformed_name'
            end,
            case
                when
                    {{ zuora_breaks_pattern('entity_created_by_id', 'id_pattern') }}
                    or {{ zuora_breaks_pattern('entity_updated_by_id', 'id_pattern') }}
                    then 'malformed_user_id'
            end,
            case when {{ zuora_too_long('entity_display_name') }} then 'text_too_long' end,
            case when entity_created_at > entity_updated_at then 'dates_out_of_order' end,
            case
                when
                    {{ zuora_unparsed('entity_created_at_text', 'entity_created_at') }}
                    or {{ zuora_unparsed('entity_updated_at_text', 'entity_updated_at') }}
                    then 'unparseable_datetime'
            end
        ) as row_reasons,
        -- the smallest and largest hash of the file's rows with this ID: they differ when the rows' values differ
        min({{ zuora_row_hash('_raw') }}) over (partition by _source_file_order, entity_id) as min_hash_in_file,
        max({{ zuora_row_hash('_raw') }}) over (partition by _source_file_order, entity_id) as max_hash_in_file
    from staged

),

final as (

    select
        ---------- the Entity fields, typed (zuora_wh/columns.py)
        entity_id,
        entity_name,
        entity_display_name,
        entity_email,
        entity_address_1,
        entity_address_2,
        entity_city,
        entity_state,
        entity_postal_code,
        entity_country,
        entity_created_at,
        entity_updated_at,
        entity_created_by_id,
        entity_updated_by_id,

        ---------- the file's tenant
        tenant,

        ---------- lineage
        _source_file,
        _source_file_order,
        _source_row_number,

        ---------- quarantine: why the row is rejected ('' when it is not), and the row as written
        {{ zuora_with_duplicate_reason('row_reasons', 'entity_id', 'min_hash_in_file', 'max_hash_in_file') }}
            as _reject_reasons,
        _raw

    from checked

)

select * from final
