"""`r2o deploy`: register job definitions; a new revision only where the rendered payload changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from r2o.cli.context import State, err, pass_state, print_json
from r2o.cli.options import BatchArgs, aws_options, batch_options, make_options, target

if TYPE_CHECKING:
    from r2o.aws.deploy import Deployed


@click.command("deploy")
@click.argument("names", nargs=-1)
@batch_options
@click.option(
    "--keep", type=int, default=None, metavar="N", help="Deregister ACTIVE revisions older than the newest N."
)
@click.option("--dry-run", is_flag=True, help="Render and check; register nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@aws_options
@pass_state
def command(
    state: State,
    names: tuple[str, ...],
    batch_args: BatchArgs,
    keep: int | None,
    dry_run: bool,
    as_json: bool,
    endpoint_url: str | None,
    region: str | None,
) -> int:
    """Register the AWS Batch job definitions of NAMEs (every component when none)."""
    repo = state.repo
    from r2o.aws.validate import render_checked

    definitions = render_checked(repo, names, make_options(repo, batch_args))
    if dry_run:
        for d in definitions:
            err.print(f"would deploy {d.name}  {d.payload['containerProperties']['image']}", markup=False)
        return 0
    from r2o.aws.deploy import REGISTERED, deploy

    client = target(endpoint_url, region).batch()

    def report(result: Deployed) -> None:
        if not as_json:
            verb = "registered" if result.action == REGISTERED else "unchanged "
            err.print(f"{verb} {result.name}:{result.revision}", markup=False)
            for arn in result.deregistered:
                err.print(f"  deregistered {arn}", markup=False)

    results = deploy(client, definitions, keep=keep, on_result=report)
    if as_json:
        print_json([r.as_dict() for r in results])
    new = sum(r.action == REGISTERED for r in results)
    err.print(f"r2o: {new} registered, {len(results) - new} unchanged", markup=False)
    return 0
