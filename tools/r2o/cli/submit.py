"""`r2o submit NAME`: submit one component as an AWS Batch job."""

from __future__ import annotations

import click

from r2o.cli.context import State, err, out, pass_state, print_json
from r2o.cli.options import aws_options, queue_option, target
from r2o.render.batch import DEFAULT_NAME_PREFIX
from r2o.run.plan import parse_assignments


@click.command("submit")
@click.argument("name")
@click.option(
    "-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="Set a parameter (repeatable)."
)
@queue_option
@click.option(
    "--depends-on",
    "depends_on",
    multiple=True,
    metavar="JOB_ID",
    help="Start only after this job succeeds (repeatable, at most 20).",
)
@click.option("--n-to-n", is_flag=True, help="Array job: child i waits for child i of each --depends-on.")
@click.option("--array-size", type=int, default=None, metavar="N", help="Submit an array job of N children.")
@click.option("--sequential", is_flag=True, help="Array job: run the children one after another.")
@click.option("--job-name", default=None, help="Job name (default: the component's name).")
@click.option(
    "--name-prefix",
    default=DEFAULT_NAME_PREFIX,
    show_default=True,
    help="Prefix of the job definition name (as rendered).",
)
@click.option("--dry-run", is_flag=True, help="Print the SubmitJob request; submit nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the submitted job as JSON.")
@aws_options
@pass_state
def command(
    state: State,
    name: str,
    params: tuple[str, ...],
    queue: str,
    depends_on: tuple[str, ...],
    n_to_n: bool,
    array_size: int | None,
    sequential: bool,
    job_name: str | None,
    name_prefix: str,
    dry_run: bool,
    as_json: bool,
    endpoint_url: str | None,
    region: str | None,
) -> int:
    """Submit component NAME to an AWS Batch queue; parameters are checked against its manifest first."""
    from r2o.aws.submit import make_request, submit

    component = state.repo.component(name)
    request = make_request(
        component,
        parameters=parse_assignments(params, "-p"),
        queue=queue,
        depends_on=depends_on,
        n_to_n=n_to_n,
        array_size=array_size,
        sequential=sequential,
        job_name=job_name,
        name_prefix=name_prefix,
    )
    if dry_run:
        print_json(request.to_api())
        return 0
    job = submit(target(endpoint_url, region).batch(), request)
    if as_json:
        print_json(job.as_dict())
    else:
        out.print(job.job_id, markup=False)
    err.print(
        f"r2o: submitted {job.job_name} ({job.job_id}) to {queue} with {job.definition_arn}", markup=False
    )
    _warn_if_stale(state, name, job.content_tag)
    return 0


def _warn_if_stale(state: State, name: str, registered: str) -> None:
    """Say so when the registered definition runs another image than this tree builds (deploy is due)."""
    from r2o.errors import R2OError
    from r2o.images.plan import ImageGraph

    try:
        current = ImageGraph.from_repo(state.repo).node(name).tag_only
    except R2OError:
        return
    if registered and registered != current:
        err.print(
            f"r2o: warning: the registered definition runs {name}:{registered}, this tree builds "
            f"{name}:{current}; to run this tree: r2o build --push {name} && r2o deploy {name}",
            markup=False,
        )
