"""`r2o validate [PATH...]`: check every manifest and base image; report every problem."""

from __future__ import annotations

from pathlib import Path

import click

from r2o.cli.context import State, err, out, pass_state, print_json
from r2o.errors import ManifestError, NotFoundError, Problem
from r2o.repo import BASE_IMAGES, COMPONENTS, Repository


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def command(state: State, paths: tuple[Path, ...], as_json: bool) -> int:
    """Validate components, base images and pipelines (all of them, or those under PATHs; a PATH may
    also be a component, base image or pipeline name)."""
    from r2o.pipeline import spec

    repo = state.repo
    wanted = [_resolve(repo, p) for p in paths]
    loaded = repo.loaded
    pipelines, pipeline_problems = spec.problems_in_repo(repo)
    problems: list[Problem] = [*loaded.problems, *pipeline_problems]
    components, images = sorted(loaded.components), sorted(loaded.images)
    if wanted:

        def asked(path: Path) -> bool:
            return any(_under(repo.rel(path), w) for w in wanted)

        problems = [p for p in problems if asked(repo.root / p.file)]
        components = [n for n in components if asked(loaded.components[n].folder)]
        images = [n for n in images if asked(loaded.images[n].folder)]
        files = {f.stem: f for f in spec.pipeline_files(repo)}
        pipelines = [n for n in pipelines if asked(files[n])]
    checked = len(components) + len(images)
    if as_json:
        print_json(
            {
                "ok": not problems,
                "components": components,
                "base_images": images,
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
    nc, ni = len(components), len(images)
    if checked or not pipelines:
        out.print(f"ok: {nc} component{'s' * (nc != 1)} and {ni} base image{'s' * (ni != 1)} are valid")
    if pipelines:
        out.print(f"ok: {len(pipelines)} pipeline{'s' * (len(pipelines) != 1)} valid: {', '.join(pipelines)}")
    if checked == 0 and not pipelines:
        err.print(
            "note: nothing to validate here" if wanted else "note: the repository has no components yet"
        )
    return 0


def _resolve(repo: Repository, arg: Path) -> Path:
    """A PATH as given (relative to the current directory), else a component, base image or pipeline
    name; what is none of these is an error, never a silent "ok"."""
    from r2o.pipeline import spec

    if arg.exists():
        return repo.rel(arg.resolve())
    name = str(arg)
    named = [repo.root / COMPONENTS / name, repo.root / BASE_IMAGES / name]
    named += [f for f in spec.pipeline_files(repo) if f.stem == name]
    for candidate in named:
        if candidate.exists():
            return repo.rel(candidate)
    raise NotFoundError(
        f"{name}: no such path, component, base image or pipeline",
        hint="components: " + ", ".join(sorted(repo.loaded.components)),
    )


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
