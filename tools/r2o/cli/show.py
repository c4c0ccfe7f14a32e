"""`r2o show NAME`: one component's manifest, resolved with defaults."""

from __future__ import annotations

import dataclasses
from typing import Any

import click
import yaml

from r2o.cli.context import State, out, pass_state, print_json
from r2o.manifest import Component


def resolved(component: Component, root_rel: str) -> dict[str, Any]:
    data = dataclasses.asdict(component)
    data["folder"] = root_rel
    data["parameters"] = {
        name: {k: v for k, v in dataclasses.asdict(p).items() if k != "name" and v not in (None, (), "")}
        for name, p in component.parameters.items()
    }
    plain: dict[str, Any] = _plain(data)
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@click.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def command(state: State, name: str, as_json: bool) -> int:
    """Show component NAME's manifest with every default filled in."""
    repo = state.repo
    component = repo.component(name)
    data = resolved(component, str(repo.rel(component.folder)))
    if as_json:
        print_json(data)
    else:
        out.print(yaml.safe_dump(data, sort_keys=False).rstrip(), markup=False)
    return 0
