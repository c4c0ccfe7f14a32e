"""`r2o list`: the components in the repository."""

from __future__ import annotations

import click
from rich.table import Table

from r2o.cli.context import State, out, pass_state, print_json


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def command(state: State, as_json: bool) -> int:
    """List the components: name, version, base image, resources."""
    components = state.repo.components
    if as_json:
        print_json(
            [
                {
                    "name": c.name,
                    "version": c.version,
                    "base": c.base,
                    "vcpus": c.resources.vcpus,
                    "memory_mib": c.resources.memory_mib,
                    "description": c.description,
                }
                for c in components.values()
            ]
        )
        return 0
    table = Table("component", "version", "base", "vCPU", "MiB", "description", box=None)
    for c in components.values():
        table.add_row(
            c.name, c.version, c.base, f"{c.resources.vcpus:g}", str(c.resources.memory_mib), c.description
        )
    out.print(table)
    return 0
