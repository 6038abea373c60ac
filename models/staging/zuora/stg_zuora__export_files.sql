{#-
  One row per export file read by the build: real-export mode lists the files the file check found
  (schema raw, table export_files), including header-only files that hold no row; demo mode lists the seeds.
-#}

with

files as (

    {% if var('zuora_export_dir', '') -%}
        select
            file as source_file,
            kind as file_kind,
            file_format,
            header_style,
            file_order as source_file_order
        from {{ source('zuora', 'export_files') }}
    {%- else -%}
        select
            'seeds/zuora_billing_run_export.csv' as source_file,
            'billing_run' as file_kind,
            'CSV, comma' as file_format,
            'label' as header_style,
            1 as source_file_order
        union all
        select
            'seeds/zuora_entity_export.csv' as source_file,
            'entity' as file_kind,
            'CSV, comma' as file_format,
            'label' as header_style,
            1 as source_file_order
    {%- endif %}

)

select * from files
