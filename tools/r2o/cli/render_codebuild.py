"""`r2o render codebuild`: buildspec.yml, the CodeBuild planner (or a static batch graph or matrix)."""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from r2o import fs
from r2o.ci import buildspec
from r2o.cli.context import State, err, out, pass_state
from r2o.errors import InputError
from r2o.render import codebuild

STALE = 1


@click.command("codebuild")
@click.option(
    "--style",
    type=click.Choice(codebuild.STYLES),
    default=codebuild.PLANNER,
    show_default=True,
    help="planner: one build plans and starts only the builds a commit needs (r2o ci plan); "
    "graph: a build per image, base images first; matrix: a build per image, no order.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Where to write (default: {buildspec.FILE} at the repository root; '-' for stdout).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the file is stale.")
@pass_state
def command(state: State, style: str, output: Path | None, check: bool) -> int:
    """Render the CodeBuild buildspec: the planner that starts only the builds a commit needs (the
    default), or a static batch node per base image and per component (--style graph|matrix)."""
    repo = state.repo
    loaded = repo.require_valid()
    plan = codebuild.targets(
        {n: i.parent for n, i in loaded.images.items()},
        {n: c.base for n, c in loaded.components.items()},
        {n: tuple(c.build.images.values()) for n, c in loaded.components.items()},
    )
    text = codebuild.render(plan, style=style)
    count = 1 if style == codebuild.PLANNER else len(plan)
    builds = f"{count} build{'s' * (count != 1)}"
    target = output or repo.root / buildspec.FILE
    # Whatever the template produces must pass the structural check before anyone sees it.
    buildspec.check_text(text, target)
    if str(output) == "-":
        out.print(text, end="", markup=False)
        return 0
    if check:
        current = target.read_text("utf-8") if target.is_file() else None
        if current == text:
            out.print(f"ok: {repo.rel(target)} is up to date ({builds}, {style})", markup=False)
            return 0
        if current is None:
            err.print(f"r2o: {repo.rel(target)} does not exist", markup=False)
        else:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"{repo.rel(target)} (committed)",
                f"{repo.rel(target)} (rendered)",
                n=2,
            )
            err.print("".join(list(diff)[:80]).rstrip("\n"), markup=False)
            err.print(f"r2o: {repo.rel(target)} is stale", markup=False)
        err.print(
            "  -> regenerate it: r2o render codebuild"
            + (f" --style {style}" if style != codebuild.PLANNER else ""),
            markup=False,
        )
        return STALE
    if not target.parent.is_dir():
        raise InputError(f"cannot write {target}: {target.parent} is not a directory")
    fs.atomic_write(target, text)
    out.print(f"wrote {repo.rel(target)} ({builds}, {style})", markup=False)
    return 0
