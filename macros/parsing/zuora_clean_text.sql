{#
  Cleans one text value of a Zuora export:
  - surrounding whitespace is trimmed and an empty field becomes null (Zuora writes nulls as empty fields);
  - Zuora's CSV-injection guard is undone: a value that starts with = + - @ or ; is written with a leading
    apostrophe ('-3 accounts failed), which is not part of the value. An apostrophe before any other
    character is kept: it is data.
  Portable SQL: no dispatch needed.
#}
{% macro zuora_clean_text(expr) -%}
    case
        when trim({{ expr }}) = '' then null
        when
            substr(trim({{ expr }}), 1, 1) = ''''
            and substr(trim({{ expr }}), 2, 1) in ('=', '+', '-', '@', ';')
            then substr(trim({{ expr }}), 2)
        else trim({{ expr }})
    end
{%- endmacro %}
