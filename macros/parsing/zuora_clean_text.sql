{#
  Cleans one text value of a Zuora export:
  - surrounding spaces are trimmed (the characters of the rule space_characters: zuora_trim) and an empty field
    becomes null (Zuora writes nulls as empty fields);
  - Zuora's CSV-injection guard is undone: a value that starts with one of the rule csv_injection_characters
    (= + - @ ;) is written with a leading apostrophe ('-3 accounts failed), which is not part of the value. An apostrophe before any other
    character is kept: it is data.
  Most values need none of it, and this expression runs for every text field of every row: a value that is ASCII
  alone, not empty, with no space at either end and no leading apostrophe is kept as it is, without a trimmed
  copy (at 1M bill runs this halves the cleaning's time). Any other value takes the whole rule. (instr on a
  string of the five characters rather than an IN list: DuckDB plans an IN list as a join. chr(39) rather than a
  quoted apostrophe: Spark reads '' in a string as the end of one string and the start of another.)
#}
{% macro zuora_clean_text(expr) -%}
    {%- set trimmed = zuora_trim(expr) -%}
    case
        when
            {{ expr }} != ''
            and {{ expr }} not like ' %'
            and {{ expr }} not like '% '
            and {{ expr }} not like concat(chr(39), '%')
            and {{ zuora_is_ascii(expr) }}
            then {{ expr }}
        when {{ trimmed }} = '' then null
        when
            substr({{ trimmed }}, 1, 1) = chr(39)
            and length({{ trimmed }}) > 1
            and instr('{{ zuora_rule("csv_injection_characters") }}', substr({{ trimmed }}, 2, 1)) > 0
            then substr({{ trimmed }}, 2)
        else {{ trimmed }}
    end
{%- endmacro %}
