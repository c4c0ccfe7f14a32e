"""`r2o new NAME`: create a working component folder (python or fortran template)."""

from __future__ import annotations

import click

from r2o import scaffold
from r2o.cli.context import State, err, out, pass_state
from r2o.images.build import BuildEvent


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

    def report(event: BuildEvent) -> None:
        if event.kind == "start":
            err.print(f"{event.step.action:5} {event.step.node.tag} ...", markup=False)

    folder = scaffold.create(repo, request, report=report)
    rel = repo.rel(folder)
    out.print(f"created {rel}: built, ran, and recorded its golden case", markup=False)
    out.print(f"next: edit {rel}/component.yaml and the code, then run: r2o test {name}", markup=False)
    return 0
