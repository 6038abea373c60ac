{#
  Parses a Zuora datetime (Created Date, End Date, ...) into a UTC timestamp without time zone.
  - With an offset, as Zuora writes them: 2025-03-09T01:30:00-08:00, ...-0800, ...+01, ...Z, optionally
    with fractional seconds. The offset is applied, never dropped.
  - Without an offset the value is tenant-local time, converted with that zone's daylight-saving rules; the zone
    is timezone_expr (staging passes the row's _tenant_timezone: the tenant's zone, from the extractor's state file,
    else the variable zuora_tenant_timezone, by default Zuora's system zone America/Los_Angeles):
      * the bare date 2025-03-09: Zuora writes a datetime that is exactly midnight as the date alone;
      * 2025-03-09T01:30:00 or 2025-03-09 01:30:00;
      * localised UI exports: 03/09/2025, 03/09/2025 01:30:00 and 03/09/2025 01:30 (a spreadsheet's re-save; the
        slash order is order_expr's, as in zuora_parse_date), 09.03.2025, 2025/03/09.
  Anything else becomes null. text_expr is text already cleaned by zuora_clean_text.
#}
{% macro zuora_parse_timestamp_utc(text_expr, timezone_expr, order_expr) -%}
    {{ return(adapter.dispatch('zuora_parse_timestamp_utc', 'zuora_billing_runs')(text_expr, timezone_expr, order_expr)) }}
{%- endmacro %}

{# The spellings of a datetime, in strptime's notation: with an offset (Zuora's usual spelling, first), and without
   one (tenant-local). Spark's patterns are derived from them (zuora_java_patterns). #}
{% macro zuora_datetime_formats(with_offset) -%}
    {%- set slash = '{slash}' -%}
    {%- if with_offset -%}
        {{ return(['%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%dT%H:%M:%S.%f%z', '%Y-%m-%d %H:%M:%S%z', '%Y-%m-%d %H:%M:%S.%f%z']) }}
    {%- endif -%}
    {{ return(['%Y-%m-%d', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S.%f', slash, slash ~ ' %H:%M:%S',
               slash ~ ' %H:%M', '%d.%m.%Y', '%d.%m.%Y %H:%M:%S', '%Y/%m/%d', '%Y/%m/%d %H:%M:%S']) }}
{%- endmacro %}

{# text_expr with a final Z (Zulu, UTC) spelled as the offset +00:00, which every engine's pattern for an offset reads.
   (like and substr rather than a regular expression: this runs for every datetime of every row.) #}
{% macro zuora_z_as_utc_offset(text_expr) -%}
    case
        when {{ text_expr }} like '%Z' or {{ text_expr }} like '%z'
            then concat(substr({{ text_expr }}, 1, length({{ text_expr }}) - 1), '+00:00')
        else {{ text_expr }}
    end
{%- endmacro %}

{% macro default__zuora_parse_timestamp_utc(text_expr, timezone_expr, order_expr) -%}
    {#- One try_strptime per format, in a coalesce: DuckDB stops at the first that parses, which is several
        times faster than try_strptime with a list of formats. Offsets first: Zuora's usual spelling. Each instant
        becomes its UTC time from its microseconds since the epoch (make_timestamp(epoch_us(...))), the same value
        as timezone('UTC', ...) without ICU's time-zone arithmetic, which cost a tenth of the parse. -#}
    {%- set utc_text = zuora_z_as_utc_offset(text_expr) -%}
    coalesce(
        make_timestamp(epoch_us({{ zuora_first_strptime(utc_text, zuora_datetime_formats(true)) }})),
        make_timestamp(epoch_us(timezone({{ timezone_expr }},
            {{ zuora_first_strptime(text_expr, zuora_datetime_formats(false), order_expr) }})))
    )
{%- endmacro %}

{% macro spark__zuora_parse_timestamp_utc(text_expr, timezone_expr, order_expr) -%}
    {#- The session runs in UTC: a pattern with an offset gives the UTC instant; a local one is moved from the zone. -#}
    {%- set utc_text = zuora_z_as_utc_offset(text_expr) -%}
    coalesce(
        {{ zuora_first_to_timestamp(utc_text, zuora_datetime_formats(true)) }},
        to_utc_timestamp({{ zuora_first_to_timestamp(text_expr, zuora_datetime_formats(false), order_expr) }},
            {{ timezone_expr }})
    )
{%- endmacro %}

{# DuckDB: the first of formats that parses text_expr, or null; a format with {slash} is read in the order that
   order_expr names (no order: not read, since a date whose day and month could be either way is never guessed). #}
{% macro zuora_first_strptime(text_expr, formats, order_expr=none) -%}
    coalesce(
        {%- for format in formats %}
            {%- if '{slash}' in format %}
        case {{ order_expr }}
            {%- for order, read in zuora_slash_formats(format).items() %}
            when '{{ order }}' then try_strptime({{ text_expr }}, '{{ read }}')
            {%- endfor %}
        end{{ ',' if not loop.last }}
            {%- else %}
        try_strptime({{ text_expr }}, '{{ format }}'){{ ',' if not loop.last }}
            {%- endif %}
        {%- endfor %}
    )
{%- endmacro %}

