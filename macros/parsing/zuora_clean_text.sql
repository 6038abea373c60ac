{#
  Cleans one text value of a Zuora export:
  - surrounding whitespace is trimmed and an empty field becomes null (Zuora writes nulls as empty fields);
  - Zuora's CSV-injection guard is undone: a value that starts with one of the rule csv_injection_characters
    (= + - @ ;) is written with a leading apostrophe ('-3 accounts failed), which is not part of the value. An apostrophe before any other
    character is kept: it is data.
  Portable SQL: no dispatch needed. (instr on a string of the five characters rather than an IN list: DuckDB
  plans an IN list as a join, and this expression runs for every text field of every row.)
#}
{% macro zuora_clean_text(expr) -%}
    case
        when trim({{ expr }}) = '' then null
        when
            substr(trim({{ expr }}), 1, 1) = chr(39)
            and length(trim({{ expr }})) > 1
            and instr('{{ zuora_rule("csv_injection_characters") }}', substr(trim({{ expr }}), 2, 1)) > 0
            then substr(trim({{ expr }}), 2)
        else trim({{ expr }})
    end
{%- endmacro %}
