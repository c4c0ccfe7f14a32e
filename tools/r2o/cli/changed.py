"""`r2o changed`: which components, base images, libs and pipelines a range of commits touches."""

from __future__ import annotations

import click

from r2o import changes
from r2o.cli.context import State, err, out, pass_state, print_json


@click.command("changed")
@click.option(
    "--base",
    envvar="R2O_BASE",
    default=None,
    metavar="REV",
    help=f"Compare from merge-base(REV, head) (env R2O_BASE; default {changes.DEFAULT_BASE}).",
)
@click.option("--head", default=None, metavar="REV", help="The revision to compare (default HEAD).")
@click.option("--uncommitted", is_flag=True, help="Also count uncommitted and untracked files.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def command(state: State, base: str | None, head: str | None, uncommitted: bool, as_json: bool) -> int:
    """List what changed between merge-base(BASE, HEAD) and HEAD, and every image it affects.

    Manifests are read from the checkout. When git lacks the history to answer (a shallow clone, an
    unknown base), r2o says so and treats every component and base image as changed.
    """
    result = changes.detect(state.repo, base=base, head=head, uncommitted=uncommitted)
    if as_json:
        if result.everything:
            err.print(
                f"r2o: warning: history is missing ({result.history_missing}): treating every "
                "component and base image as changed",
                markup=False,
            )
        print_json(result.to_dict())
    else:
        lines = changes.summary_lines(result)
        if result.everything:
            for line in lines[:2]:
                err.print(f"r2o: warning: {line}", markup=False)
            lines = lines[2:]
        for line in lines:
            out.print(line, markup=False)
    return 0
