"""`r2o new NAME`: create a working component folder (python or fortran template)."""

from __future__ import annotations

import click

from r2o import scaffold, workspace
from r2o.cli.context import State, err, out, pass_state
from r2o.images import build as builder
from r2o.images.engine import Engine
from r2o.images.plan import ImageGraph
from r2o.repo import Repository
from r2o.run.docker import DockerExecutor
from r2o.run.runner import Executor


@click.command("new")
@click.argument("name")
@click.option("--template", type=click.Choice(scaffold.TEMPLATES), default="python", show_default=True)
@click.option(
    "--base", default=None, help="Base image (default: python-sci, or fortran for --template fortran)."
)
@click.option("--description", default=None, help="One line saying what the component computes.")
@click.option(
    "--owner",
    "owners",
    multiple=True,
    default=(scaffold.DEFAULT_OWNER,),
    show_default=True,
    help="Owning team; repeat for several (each value is one owner, commas included).",
)
@click.option(
    "--vcpus",
    type=click.IntRange(1, 256),
    default=None,
    help="vCPUs (fortran: MPI ranks; default 2 for fortran, 1 for python).",
)
@pass_state
def command(
    state: State,
    name: str,
    template: str,
    base: str | None,
    description: str | None,
    owners: tuple[str, ...],
    vcpus: int | None,
) -> int:
    """Create components/NAME from a template, build it, and record its golden case."""
    repo = state.repo
    default_description = f"TODO: say what {name} computes ({template} template)."
    request = scaffold.NewComponent(
        name=name,
        template=template,
        base=base or scaffold.DEFAULT_BASE[template],
        description=description if description is not None else default_description,
        owners=owners,
        vcpus=vcpus or (2 if template == "fortran" else 1),
    )
    scaffold.check_request(repo, request)
    engine = Engine.connect()

    def executor_for(graph: ImageGraph, component: str) -> tuple[Executor, str | None]:
        plan = builder.plan_for(graph, engine, [component], push=False, registry=None)

        def report(event: builder.BuildEvent) -> None:
            if event.kind == "start":
                err.print(f"{event.step.action:5} {event.step.node.tag} ...", markup=False)

        builder.execute(plan, graph, engine, report=report, cache_dir=repo.root / ".r2o" / "cache")
        return DockerExecutor(engine, workspace.session(repo.root)), graph.ref(component)

    folder = scaffold.create(repo, request, executor_for=executor_for)
    # The recorded expected/ files are part of the content address: build the final tag too, so the
    # next `r2o test` or `r2o run` starts at once.
    executor_for(ImageGraph.from_repo(Repository(repo.root)), name)
    rel = repo.rel(folder)
    out.print(f"created {rel}: built, ran, and recorded its golden case", markup=False)
    out.print(f"next: edit {rel}/component.yaml and the code, then run: r2o test {name}", markup=False)
    return 0
