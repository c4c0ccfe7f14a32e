"""`r2o pipeline plan|run|render|submit NAME --start DATE --days N`: a pipeline over a date range."""

from __future__ import annotations

import click

from r2o.cli.context import State, err, out, pass_state, print_json
from r2o.cli.options import BatchArgs, batch_options
from r2o.cli.progress import PipelineProgress
from r2o.errors import UsageError
from r2o.pipeline import plan as planning
from r2o.pipeline import spec
from r2o.repo import Repository


@click.group("pipeline")
def command() -> None:
    """Plan, run (locally) and submit (AWS Batch) pipelines such as aqcast."""


def _graph(repo: Repository, name: str, start: str, days: int) -> planning.TaskGraph:
    pipeline = spec.load(repo, name)
    return planning.make_graph(pipeline, planning.parse_start(start), days)


_start = click.option("--start", required=True, metavar="YYYY-MM-DD", help="First day (UTC).")
_days = click.option("--days", type=int, default=1, show_default=True, help="Number of days.")
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@command.command("plan")
@click.argument("name")
@_start
@_days
@_json
@pass_state
def plan_command(state: State, name: str, start: str, days: int, as_json: bool) -> int:
    """Print the task graph of pipeline NAME (nothing runs)."""
    graph = _graph(state.repo, name, start, days)
    if as_json:
        print_json(graph.as_dict())
        return 0
    out.print(
        f"{graph.pipeline.name}: {len(graph.tasks)} tasks, {graph.start} .. {graph.end} ({days} days"
        + (f", then {graph.dates[-1]} simulated as look-ahead)" if graph.pipeline.lookahead_days else ")"),
        markup=False,
    )
    for task in graph.tasks:
        deps = ", ".join(task.deps) or "-"
        out.print(f"  {task.id:<28} {task.component:<20} after: {deps}", markup=False)
    return 0


@command.command("run")
@click.argument("name")
@_start
@_days
@click.option("--jobs", "-j", type=int, default=None, help="vCPU budget (default: the number of cores).")
@click.option("--native", is_flag=True, help="Run tasks on the host instead of in their images.")
@click.option(
    "--prepare-inputs",
    is_flag=True,
    help="Make missing input files with their pipeline's prepare command (AQcast: synoptic files).",
)
@_json
@pass_state
def run_command(
    state: State,
    name: str,
    start: str,
    days: int,
    jobs: int | None,
    native: bool,
    prepare_inputs: bool,
    as_json: bool,
) -> int:
    """Run pipeline NAME locally: parallel, cached, resumable (rerun the same command after a failure)."""
    from r2o.pipeline import local

    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    graph = _graph(state.repo, name, start, days)
    with PipelineProgress() as progress:
        report = local.run_pipeline(
            state.repo, graph, native=native, jobs=jobs, on_event=progress, prepare_inputs=prepare_inputs
        )
    report_path = report.run_dir / local.REPORT_FILE
    if as_json:
        print_json(report.as_dict())
    counts = report.as_dict()["counts"]
    err.print(
        f"r2o: {graph.pipeline.name} {graph.run_name}: {counts['ran']} ran, {counts['cached']} cached, "
        f"{counts['failed']} failed, {counts['blocked']} blocked in {report.wall_seconds:.1f} s "
        f"({report.backend}, {report.jobs} vCPUs)",
        markup=False,
    )
    report.raise_for_failures()
    err.print(
        f"r2o: outputs in {report.run_dir}/<step>/<day>/ (each with provenance.json); report: {report_path}",
        markup=False,
    )
    return 0


@command.command("render")
@click.argument("name")
@click.option("--backend", type=click.Choice(["batch"]), default="batch", show_default=True)
@_start
@_days
@click.option(
    "--queue",
    envvar="R2O_JOB_QUEUE",
    default="QUEUE",
    show_default=True,
    help="Job queue (env R2O_JOB_QUEUE).",
)
@batch_options
@_json
@pass_state
def render_command(
    state: State,
    /,
    name: str,
    backend: str,
    start: str,
    days: int,
    queue: str,
    as_json: bool,
    batch_args: BatchArgs,
) -> int:
    """Print the AWS Batch rendering of pipeline NAME: job definitions and the SubmitJob calls."""
    from r2o.cli.options import make_options
    from r2o.pipeline import batch

    repo = state.repo
    options = make_options(repo, batch_args)
    plan = batch.render(repo, name, planning.parse_start(start), days, options, queue)
    if as_json:
        print_json(plan.as_dict(queue))
        return 0
    out.print(
        f"{len(plan.definitions)} job definitions, {len(plan.jobs)} SubmitJob calls; "
        f"{'data' if plan.bucket else 'lake'}: {plan.where}",
        markup=False,
    )
    for job in plan.jobs:
        deps = ", ".join(f"{n}{' (' + k + ')' if k else ''}" for n, k in job.depends_on)
        seq = " SEQUENTIAL" if job.sequential and job.size > 1 else ""
        out.print(f"  {job.name:<28} size {job.size:<6} after: {deps or '-'}{seq}", markup=False)
    return 0


@command.command("submit")
@click.argument("name")
@_start
@_days
@click.option("--queue", envvar="R2O_JOB_QUEUE", required=True, help="Job queue (env R2O_JOB_QUEUE).")
@click.option(
    "--endpoint-url", envvar="R2O_AWS_ENDPOINT_URL", default=None, help="AWS endpoint (tests: moto)."
)
@click.option("--region", default=None, help="AWS region (default: the standard chain).")
@batch_options
@_json
@pass_state
def submit_command(
    state: State,
    /,
    name: str,
    start: str,
    days: int,
    queue: str,
    endpoint_url: str | None,
    region: str | None,
    as_json: bool,
    batch_args: BatchArgs,
) -> int:
    """Submit pipeline NAME to AWS Batch as array jobs (registers its job definitions when they changed)."""
    from r2o.aws.session import AwsTarget
    from r2o.cli.options import make_options
    from r2o.pipeline import batch

    repo = state.repo
    target = AwsTarget.from_env(endpoint_url=endpoint_url, region=region)
    options = make_options(repo, batch_args)
    submission = batch.submit_pipeline(repo, name, planning.parse_start(start), days, options, queue, target)
    plan = submission.plan
    if as_json:
        print_json([dict(job) for job in submission.jobs])
    else:
        for job in submission.jobs:
            out.print(f"{job['jobName']:<28} {job['jobId']} (size {job['size']})", markup=False)
    err.print(f"r2o: outputs will land in {plan.where}/<step>/<day>/", markup=False)
    return 0
