"""`r2o export cwl`: CWL v1.2 tools for components, or a Workflow for a pipeline over a date range."""

from __future__ import annotations

from pathlib import Path

import click

from r2o import fs
from r2o.cli.context import State, err, pass_state, print_json
from r2o.errors import UsageError
from r2o.export import cwl
from r2o.pipeline import plan as planning
from r2o.pipeline import spec


@click.group("export")
def command() -> None:
    """Describe components and pipelines for other workflow engines."""


@command.command("cwl")
@click.argument("names", nargs=-1)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Directory for the .cwl files.")
@click.option("--pipeline", "pipeline_name", default=None, help="Export this pipeline as a Workflow.")
@click.option("--start", default=None, metavar="YYYY-MM-DD", help="First day (UTC), with --pipeline.")
@click.option("--days", type=int, default=1, show_default=True, help="Number of days, with --pipeline.")
@click.option(
    "--steps",
    default="",
    metavar="A,B,...",
    help="With --pipeline: only these steps (and none that they need left out), e.g. wrf,biogenic,...",
)
@click.option("--json", "as_json", is_flag=True, help="Print the files written as JSON.")
@pass_state
def cwl_command(
    state: State,
    names: tuple[str, ...],
    out: Path,
    pipeline_name: str | None,
    start: str | None,
    days: int,
    steps: str,
    as_json: bool,
) -> int:
    """Write one CWL CommandLineTool per component NAME (all when none), or with --pipeline a Workflow,
    its job file (the external inputs) and the tools it runs. Run them with cwltool or toil-cwl-runner."""
    repo = state.repo
    if pipeline_name is None:
        if start is not None or steps:
            raise UsageError("--start and --steps go with --pipeline", hint="add --pipeline aqcast")
        documents = cwl.export_tools(repo, names)
    else:
        if names:
            raise UsageError("give component NAMES or --pipeline, not both")
        if start is None:
            raise UsageError("--pipeline needs --start", hint="add --start YYYY-MM-DD")
        pipeline = spec.load(repo, pipeline_name)
        graph = planning.make_graph(pipeline, planning.parse_start(start), days)
        chosen = [s.strip() for s in steps.split(",") if s.strip()]
        documents = cwl.export_workflow(repo, graph, out, chosen)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for doc in documents:
            fs.atomic_write(out / doc.filename, doc.text)
    except OSError as exc:
        raise UsageError(
            f"cannot write to --out {out}: {exc.strerror or exc}", hint="choose a directory you can write to"
        ) from None
    if as_json:
        print_json([str(out / d.filename) for d in documents])
    err.print(
        f"r2o: wrote {len(documents)} CWL file{'s' if len(documents) != 1 else ''} to {out}", markup=False
    )
    return 0
