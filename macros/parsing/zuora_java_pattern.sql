{# The Java (Spark) patterns of a strptime format: %z has three spellings in Java (X: +01, XX: +0100, XXX: +01:00
   and Z), so one format can give three patterns. Month, day and hour are single letters, which Java reads as one
   or two digits, as DuckDB's strptime reads %m, %d and %H (a US spreadsheet writes 2/8/2025 3:05). #}
{% macro zuora_java_patterns(format) -%}
    {%- set java = format | replace('%Y', 'yyyy') | replace('%m', 'M') | replace('%d', 'd') | replace('%H', 'H')
        | replace('%M', 'mm') | replace('%S', 'ss') | replace('%f', 'SSSSSS') | replace('T', "'T'") -%}
    {%- if '%z' in java -%}
        {{ return([java | replace('%z', 'XXX'), java | replace('%z', 'XX'), java | replace('%z', 'X')]) }}
    {%- endif -%}
    {{ return([java]) }}
{%- endmacro %}

{# Spark: the first of formats (strptime style) that parses text_expr, as a timestamp in the session zone, or null;
   a format with {slash} is read in the order order_expr names (zuora_first_strptime). #}
{% macro zuora_first_to_timestamp(text_expr, formats, order_expr=none) -%}
    coalesce(
        {%- for format in formats %}
            {%- set outer = loop %}
            {%- if '{slash}' in format %}
        case {{ order_expr }}
                {%- for order, read in zuora_slash_formats(format).items() %}
            when '{{ order }}' then {{ zuora_first_to_timestamp(text_expr, [read]) }}
                {%- endfor %}
        end{{ ',' if not outer.last }}
            {%- else %}
                {%- for pattern in zuora_java_patterns(format) %}
        try_to_timestamp({{ text_expr }}, '{{ pattern | replace("'", "\\'") }}'){{ ',' if not (outer.last and loop.last) }}
                {%- endfor %}
            {%- endif %}
        {%- endfor %}
    )
{%- endmacro %}
