"""`r2o images`: every image, its content tag, and where it exists."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from r2o.cli.context import State, out, pass_state, print_json, registry_option
from r2o.images.engine import Engine, registry_has
from r2o.images.plan import ImageGraph


@click.command("images")
@registry_option("Also look the tags up in this registry")
@click.option("--offline", is_flag=True, help="Compute tags only; do not ask the engine.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def command(state: State, registry: str | None, offline: bool, as_json: bool) -> int:
    """List base images and components with their content tags (computed without building)."""
    graph = ImageGraph.from_repo(state.repo)
    engine = None if offline else Engine.connect()
    rows: list[dict[str, Any]] = []
    for node in graph.order(graph.nodes):
        rows.append(
            {
                "name": node.name,
                "kind": node.kind,
                "tag": node.tag,
                "parent": node.parent,
                "local": engine.has_local(node.tag) if engine else None,
                "registry": registry_has(registry, node.repository, node.tag_only) if registry else None,
            }
        )
    if as_json:
        print_json(rows)
        return 0
    table = Table("image", "kind", "tag", "local", "registry", box=None)
    mark = {True: "yes", False: "no", None: "-"}
    for r in rows:
        table.add_row(
            str(r["name"]),
            str(r["kind"]),
            str(r["tag"]),
            mark[r["local"]],
            mark[r["registry"]],
        )
    out.print(table)
    return 0
