"""The one jinja2 environment for every template shipped in r2o/templates/.

A value never goes into a generated file as raw text: each template pipes it through the filter
of the language it lands in, so that whatever a user typed (``: ``, ``#``, quotes, three double
quotes in a row, Markdown markup) reads back as exactly that value:

- ``yaml``: a YAML flow node made by ``yaml.safe_dump`` (a scalar is quoted when it needs to be;
  a list becomes ``[a, b]``);
- ``pydoc``: the inside of a triple-quoted Python string (backslashes and every ``"`` escaped);
- ``md``: one line of Markdown text: the characters that open inline markup (emphasis, code,
  links, images, HTML, entities, GFM tables and strikethrough) backslash-escaped anywhere, and a
  leading block marker (heading, quote, list, rule) escaped too; CommonMark renders an escaped
  punctuation character literally.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

import jinja2
import yaml

_MD_INLINE = re.compile(r"([\\`*_\[\]<>&!~|])")
_MD_BLOCK_START = re.compile(r"^([0-9]*)([#>+=.)-])")


def yaml_node(value: Any) -> str:
    """``value`` as one line of YAML flow syntax that loads back as ``value``."""
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf, allow_unicode=True, sort_keys=False)
    # A plain top-level scalar is followed by an explicit document end marker.
    text = text.removesuffix("\n...\n").removesuffix("\n")
    if "\n" in text:  # safe_dump folds nothing at infinite width; a line break would be a bug here
        raise ValueError(f"{value!r} does not fit on one YAML line")
    return text


def python_docstring_text(value: str) -> str:
    """``value`` escaped for the inside of a triple-double-quoted (non-raw) Python string literal."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def markdown_text(value: str) -> str:
    """One line ``value`` as Markdown that renders as exactly ``value`` (stripped of blanks)."""
    text = _MD_INLINE.sub(r"\\\1", value.strip())
    return _MD_BLOCK_START.sub(r"\1\\\2", text)


@cache
def environment() -> jinja2.Environment:
    # StrictUndefined: a missing variable in an infrastructure file must fail loudly.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("r2o", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yaml"] = yaml_node
    env.filters["pydoc"] = python_docstring_text
    env.filters["md"] = markdown_text
    return env


def render(template_name: str, /, **context: Any) -> str:
    return environment().get_template(template_name).render(**context)
