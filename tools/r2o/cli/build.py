"""`r2o build`: build images whose content tag does not exist yet, base images first."""

from __future__ import annotations

import click

from r2o import changes
from r2o.cli.context import State, err, out, pass_state, registry_option
from r2o.errors import UsageError
from r2o.images import build as builder
from r2o.images.engine import Engine
from r2o.images.plan import ImageGraph


@click.command("build")
@click.argument("names", nargs=-1)
@click.option("--all", "build_all", is_flag=True, help="Every base image and component.")
@click.option(
    "--changed",
    "only_changed",
    is_flag=True,
    help="What changed since merge-base(--base, HEAD): see r2o changed.",
)
@click.option("--base", default=None, metavar="REV", help="Base revision for --changed (default HEAD~1).")
@click.option("--push", is_flag=True, help="Push built (or missing) tags to --registry.")
@registry_option("Registry to check and push to")
@click.option("--dry-run", is_flag=True, help="Print the plan and build nothing.")
@click.option("--verbose", "-v", is_flag=True, help="Print every line of the build logs.")
@pass_state
def command(
    state: State,
    names: tuple[str, ...],
    build_all: bool,
    only_changed: bool,
    base: str | None,
    push: bool,
    registry: str | None,
    dry_run: bool,
    verbose: bool,
) -> int:
    """Build NAMEs (components or base images) and what they build FROM; skip existing tags."""
    if sum((build_all, bool(names), only_changed)) > 1:
        raise UsageError("give NAMEs, --all or --changed, only one of them")
    if not build_all and not names and not only_changed:
        raise UsageError("nothing to build", hint="name components or base images, or pass --all / --changed")
    if base is not None and not only_changed:
        raise UsageError("--base only applies with --changed")
    repo = state.repo
    graph = ImageGraph.from_repo(repo)
    if only_changed:
        found = changes.detect(repo, base=base)
        for line in changes.summary_lines(found):
            err.print(line, markup=False)
        if not found.images:
            err.print("r2o: nothing to build")
            return 0
        targets = found.images
    else:
        targets = list(graph.nodes) if build_all else [graph.node(n).name for n in names]
    engine = Engine.connect()
    plan = builder.plan_for(graph, engine, targets, push=push, registry=registry)
    if dry_run:
        out.print(plan.describe(), markup=False)
        return 0
    for step in plan.steps:
        if step.action == builder.SKIP:
            err.print(f"up to date  {step.node.tag}", markup=False)

    def report(event: builder.BuildEvent) -> None:
        if event.kind == "start":
            err.print(f"{event.step.action:5} {event.step.node.tag} ...", markup=False)
        elif event.kind == "line":
            if verbose or event.text.startswith(("Step ", "building the", "pulling ")):
                err.print(f"    {event.text}", markup=False)
        else:
            err.print(f"done  {event.step.node.tag} in {event.seconds:.1f} s", markup=False)

    done = builder.execute(plan, graph, engine, report=report, cache_dir=repo.root / ".r2o" / "cache")
    err.print(f"r2o: {len(done)} built or pushed, {len(plan.steps) - len(done)} up to date")
    return 0
