"""`r2o run NAME`: run one component as AWS Batch would (Docker), or natively on the host."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from r2o import workspace
from r2o.cli.context import State, err, pass_state
from r2o.run.backend import prepare
from r2o.run.plan import make_plan, parse_assignments
from r2o.run.runner import run


def _echo(stream: str, chunk: bytes) -> None:
    target = sys.stdout.buffer if stream == "stdout" else sys.stderr.buffer
    target.write(chunk)
    target.flush()


@click.command("run")
@click.argument("name")
@click.option(
    "-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="Set a parameter (repeatable)."
)
@click.option("--input", "inputs", multiple=True, metavar="NAME=PATH", help="Provide an input (repeatable).")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory (default: .r2o/runs/NAME in the repository).",
)
@click.option("--native", is_flag=True, help="Run on the host instead of in the component's image.")
@click.option("--timeout", type=int, default=None, help="Override the manifest's timeout (seconds).")
@click.option("--dry-run", is_flag=True, help="Print the plan and run nothing.")
@pass_state
def command(
    state: State,
    name: str,
    params: tuple[str, ...],
    inputs: tuple[str, ...],
    output: Path | None,
    native: bool,
    timeout: int | None,
    dry_run: bool,
) -> int:
    """Run component NAME with its manifest's limits; outputs land in --output only on success."""
    repo = state.repo
    component = repo.component(name)
    output_dir = output if output is not None else repo.root / ".r2o" / "runs" / name
    given_inputs = {k: Path(v) for k, v in parse_assignments(inputs, "--input").items()}
    backend = prepare(repo, [name], native=native, build_missing=False)
    plan = make_plan(
        component,
        parameters=parse_assignments(params, "-p"),
        inputs=given_inputs,
        output_dir=output_dir,
        timeout_s=timeout,
        image=backend.image(name),
    )
    if dry_run:
        err.print(plan.describe(), markup=False)
        return 0
    result = run(plan, backend.executor, echo=_echo, on_staging=workspace.session(repo.root).note_external)
    if result.extra_outputs:
        kept = component.outputs_extra == "keep"
        err.print(
            f"r2o: warning: {name} wrote files no output declares: {', '.join(result.extra_outputs)}; "
            + (
                "kept (outputs_extra: keep)"
                if kept
                else "not kept (declare them, or set outputs_extra: keep)"
            ),
            markup=False,
        )
    err.print(
        f"r2o: {name} finished in {result.execution.seconds:.1f} s ({result.backend}); "
        f"outputs in {result.output_dir}",
        markup=False,
    )
    return 0
