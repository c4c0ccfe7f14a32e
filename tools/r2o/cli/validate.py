"""`r2o validate [PATH...]`: check manifests, base images, pipelines, golden cases and Dockerfiles."""

from __future__ import annotations

from pathlib import Path

import click

from r2o.cli.context import State, err, out, pass_state, print_json
from r2o.errors import ManifestError


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def command(state: State, paths: tuple[Path, ...], as_json: bool) -> int:
    """Validate components, base images, pipelines, golden cases and Dockerfiles (all of them, or
    those under PATHs; a PATH may also be a component, base image or pipeline name)."""
    from r2o import validation

    repo = state.repo
    report = validation.validate(repo, [validation.resolve_target(repo, p) for p in paths])
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "components": report.components,
                "base_images": report.base_images,
                "pipelines": report.pipelines,
                "golden_cases": report.cases,
                "dockerfiles": report.dockerfiles,
                "problems": [
                    {
                        "file": str(p.file),
                        "field": p.field,
                        "line": p.line,
                        "message": p.message,
                        "hint": p.hint,
                    }
                    for p in report.problems
                ],
                "lint": [f.as_dict() for f in report.findings],
            }
        )
        return 0 if report.ok else ManifestError.exit_code
    for warning in report.warnings:
        err.print(f"warning: {warning.problem()}", markup=False)
    if not report.ok:
        raise ManifestError(report.problems, hint="fix the files above, then run: r2o validate")
    nc, ni = len(report.components), len(report.base_images)
    checked = nc + ni
    if checked or not report.pipelines:
        nk, nd = len(report.cases), len(report.dockerfiles)
        out.print(
            f"ok: {nc} component{'s' * (nc != 1)} and {ni} base image{'s' * (ni != 1)} are valid "
            f"({nk} golden case{'s' * (nk != 1)}, {nd} Dockerfile{'s' * (nd != 1)} checked)",
            markup=False,
        )
    if report.pipelines:
        n = len(report.pipelines)
        out.print(f"ok: {n} pipeline{'s' * (n != 1)} valid: {', '.join(report.pipelines)}", markup=False)
    if checked == 0 and not report.pipelines:
        err.print("note: nothing to validate here" if paths else "note: the repository has no components yet")
    return 0
