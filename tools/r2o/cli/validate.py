"""`r2o validate [PATH...]`: check every manifest and base image; report every problem."""

from __future__ import annotations

from pathlib import Path

import click

from r2o.cli.context import State, err, out, pass_state, print_json
from r2o.errors import ManifestError, Problem


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def command(state: State, paths: tuple[Path, ...], as_json: bool) -> int:
    """Validate components, base images and pipelines (all of them, or those under PATHs)."""
    from r2o.pipeline import spec

    repo = state.repo
    loaded = repo.loaded
    pipelines, pipeline_problems = spec.problems_in_repo(repo)
    problems: list[Problem] = [*loaded.problems, *pipeline_problems]
    if paths:
        wanted = [repo.rel(p.resolve()) for p in paths]
        problems = [p for p in problems if any(_under(Path(p.file), w) for w in wanted)]
    checked = len(loaded.components) + len(loaded.images)
    if as_json:
        print_json(
            {
                "ok": not problems,
                "components": sorted(loaded.components),
                "base_images": sorted(loaded.images),
                "pipelines": pipelines,
                "problems": [
                    {
                        "file": str(p.file),
                        "field": p.field,
                        "line": p.line,
                        "message": p.message,
                        "hint": p.hint,
                    }
                    for p in problems
                ],
            }
        )
        if problems:
            return ManifestError.exit_code
        return 0
    if problems:
        raise ManifestError(problems, hint="fix the files above, then run: r2o validate")
    nc, ni = len(loaded.components), len(loaded.images)
    out.print(f"ok: {nc} component{'s' * (nc != 1)} and {ni} base image{'s' * (ni != 1)} are valid")
    if pipelines:
        out.print(f"ok: {len(pipelines)} pipeline{'s' * (len(pipelines) != 1)} valid: {', '.join(pipelines)}")
    if checked == 0:
        err.print("note: the repository has no components yet")
    return 0


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
