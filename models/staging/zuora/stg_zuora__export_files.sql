{#-
  One row per export file read by the build: real-export mode lists the files the file check found
  (schema raw, table export_files), including header-only files that hold no row; demo mode lists the seeds,
  from the seeds themselves.
-#}

with

files as (

    {% if var('zuora_input') == 'exports' -%}
        select
            file as source_file,
            kind as file_kind,
            file_format,
            header_style,
            {{ zuora_tenant('tenant') }} as tenant,
            file_order as source_file_order,
            extract_kind,
            is_new as is_new_file
        from {{ source('zuora', 'export_files') }}
    {%- else -%}
        -- demo mode: the seeds are the export files
        select distinct
            _source_file as source_file,
            'billing_run' as file_kind,
            'CSV, comma' as file_format,
            'label' as header_style,
            {{ zuora_tenant('_tenant') }} as tenant,
            _source_file_order as source_file_order,
            cast(null as string) as extract_kind,
            _is_new_file as is_new_file
        from {{ zuora_export('billing_run') }}
        union all
        select distinct
            _source_file as source_file,
            'entity' as file_kind,
            'CSV, comma' as file_format,
            'label' as header_style,
            {{ zuora_tenant('_tenant') }} as tenant,
            _source_file_order as source_file_order,
            cast(null as string) as extract_kind,
            _is_new_file as is_new_file
        from {{ zuora_export('entity') }}
    {%- endif %}

)

select * from files
