"""`r2o golden record NAME`: run a component's golden cases and write their expected outputs."""

from __future__ import annotations

import click

from r2o.cli.context import State, err, out, pass_state
from r2o.golden import runner
from r2o.run.backend import prepare


@click.group("golden")
def command() -> None:
    """Manage golden cases (expected outputs under components/NAME/tests/golden/CASE/)."""


@command.command("record")
@click.argument("name")
@click.option("--case", default=None, help="Only this case.")
@click.option("--force", is_flag=True, help="Replace existing expected outputs (and report what changed).")
@click.option("--native", is_flag=True, help="Run on the host instead of in the image.")
@pass_state
def record(state: State, name: str, case: str | None, force: bool, native: bool) -> int:
    """Run NAME's golden cases and write each case's expected/ folder."""
    repo = state.repo
    component = repo.component(name)
    with prepare(repo, [name], native=native, build_missing=True) as backend:
        recorded = runner.record(
            repo, component, backend.executor, backend.image(name), case=case, force=force
        )
    for rec in recorded:
        where = repo.rel(rec.case.expected_dir)
        if rec.created:
            out.print(f"recorded {rec.case.id} -> {where}", markup=False)
        elif rec.changes:
            out.print(f"re-recorded {rec.case.id} -> {where}; changed outputs:", markup=False)
            for change in rec.changes:
                out.print(f"  {change.output}:\n{change.report}", markup=False)
        else:
            out.print(f"re-recorded {rec.case.id} -> {where}; no output changed", markup=False)
    err.print("review the changes with git diff, then commit them", markup=False)
    return 0
