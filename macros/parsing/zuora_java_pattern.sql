{# The Java (Spark) patterns of a strptime format: %z has three spellings in Java (X: +01, XX: +0100, XXX: +01:00
   and Z), so one format can give three patterns. #}
{% macro zuora_java_patterns(format) -%}
    {%- set java = format | replace('%Y', 'yyyy') | replace('%m', 'MM') | replace('%d', 'dd') | replace('%H', 'HH')
        | replace('%M', 'mm') | replace('%S', 'ss') | replace('%f', 'SSSSSS') | replace('T', "'T'") -%}
    {%- if '%z' in java -%}
        {{ return([java | replace('%z', 'XXX'), java | replace('%z', 'XX'), java | replace('%z', 'X')]) }}
    {%- endif -%}
    {{ return([java]) }}
{%- endmacro %}

{# Spark: the first of formats (strptime style) that parses text_expr, as a timestamp in the session zone, or null. #}
{% macro zuora_first_to_timestamp(text_expr, formats) -%}
    coalesce(
        {%- for format in formats %}
            {%- set outer = loop %}
            {%- for pattern in zuora_java_patterns(format) %}
        try_to_timestamp({{ text_expr }}, '{{ pattern | replace("'", "\\'") }}'){{ ',' if not (outer.last and loop.last) }}
            {%- endfor %}
        {%- endfor %}
    )
{%- endmacro %}
