"""The one jinja2 environment for every template shipped in r2o/templates/."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


@cache
def environment() -> jinja2.Environment:
    # StrictUndefined: a missing variable in an infrastructure file must fail loudly.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("r2o", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template_name: str, /, **context: Any) -> str:
    return environment().get_template(template_name).render(**context)
