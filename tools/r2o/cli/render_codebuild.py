"""`r2o render codebuild`: buildspec.yml (a CodeBuild batch graph) rendered from the manifests."""

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
    default=codebuild.GRAPH,
    show_default=True,
    help="graph: base images before their dependents; matrix: one build per image, no order.",
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
    """Render the CodeBuild buildspec: one batch node per base image and per component."""
    repo = state.repo
    loaded = repo.require_valid()
    plan = codebuild.targets(
        {n: i.parent for n, i in loaded.images.items()},
        {n: c.base for n, c in loaded.components.items()},
        {n: tuple(c.build.images.values()) for n, c in loaded.components.items()},
    )
    text = codebuild.render(plan, style=style)
    target = output or repo.root / buildspec.FILE
    # Whatever the template produces must pass the structural check before anyone sees it.
    buildspec.check_text(text, target)
    if str(output) == "-":
        out.print(text, end="", markup=False)
        return 0
    if check:
        current = target.read_text("utf-8") if target.is_file() else None
        if current == text:
            out.print(f"ok: {repo.rel(target)} is up to date ({len(plan)} builds)", markup=False)
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
            + (f" --style {style}" if style != codebuild.GRAPH else ""),
            markup=False,
        )
        return STALE
    if not target.parent.is_dir():
        raise InputError(f"cannot write {target}: {target.parent} is not a directory")
    fs.atomic_write(target, text)
    out.print(f"wrote {repo.rel(target)} ({len(plan)} builds, {style})", markup=False)
    return 0
