"""`r2o test [NAME...]`: run golden cases in the built image and compare with expected outputs."""

from __future__ import annotations

from pathlib import Path

import click

from r2o import changes
from r2o.cli.context import State, err, out, pass_state, print_json
from r2o.errors import UsageError
from r2o.golden import junit, runner
from r2o.run.backend import prepare

MISMATCH = 1


def _show(verdict: runner.CaseVerdict) -> None:
    out.print(f"{verdict.status.upper():5} {verdict.case.id}  ({verdict.seconds:.1f} s)", markup=False)
    if verdict.status == runner.ERROR:
        out.print("  " + verdict.message.replace("\n", "\n  "), markup=False)
    elif verdict.status != runner.PASS:
        if verdict.message:
            out.print(f"  {verdict.message}", markup=False)
        for o in verdict.outputs:
            if not o.equal:
                out.print(f"  output {o.output}:\n    " + o.report.replace("\n", "\n    "), markup=False)


@click.command("test")
@click.argument("names", nargs=-1)
@click.option("--case", default=None, help="Only this case (with one NAME).")
@click.option(
    "--changed",
    "only_changed",
    is_flag=True,
    help="Components changed since merge-base(--base, HEAD): see r2o changed.",
)
@click.option("--base", default=None, metavar="REV", help="Base revision for --changed (default HEAD~1).")
@click.option(
    "--repeat",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="Run each case N times and demand bit-identical outputs.",
)
@click.option("--native", is_flag=True, help="Run on the host instead of in the image.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON verdicts.")
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write JUnit XML here (for CodeBuild reports).",
)
@pass_state
def command(
    state: State,
    names: tuple[str, ...],
    case: str | None,
    only_changed: bool,
    base: str | None,
    repeat: int,
    native: bool,
    as_json: bool,
    junit_file: Path | None,
) -> int:
    """Run the golden cases of NAMEs (default: every component) and compare outputs."""
    repo = state.repo
    if only_changed and names:
        raise UsageError("give NAMEs or --changed, not both")
    if base is not None and not only_changed:
        raise UsageError("--base only applies with --changed")
    if only_changed:
        found = changes.detect(repo, base=base)
        for line in changes.summary_lines(found):
            err.print(line, markup=False)
        targets = found.components
        if not targets:
            err.print("r2o: no component changed: nothing to test")
            if junit_file is not None:
                junit.write(junit_file, [])
            if as_json:
                print_json([])
            return 0
    else:
        targets = list(names) or sorted(repo.components)
    if case is not None and len(targets) != 1:
        raise UsageError("--case needs exactly one component NAME")
    verdicts: list[runner.CaseVerdict] = []
    for name in targets:
        component = repo.component(name)
        with prepare(repo, [name], native=native, build_missing=True) as backend:
            verdicts += runner.check_component(
                repo,
                component,
                backend.executor,
                backend.image(name),
                case=case,
                repeat=repeat,
                on_verdict=None if as_json else _show,
            )
    if junit_file is not None:
        junit.write(junit_file, verdicts)
    counts = {
        s: sum(1 for v in verdicts if v.status == s)
        for s in (runner.PASS, runner.FAIL, runner.NOT_DETERMINISTIC, runner.ERROR)
    }
    if as_json:
        print_json(
            [
                {
                    "component": v.case.component,
                    "case": v.case.name,
                    "status": v.status,
                    "seconds": round(v.seconds, 3),
                    "message": v.message,
                    "outputs": [
                        {
                            "output": o.output,
                            "equal": o.equal,
                            "comparison": o.comparison.to_dict() if o.comparison else o.report,
                        }
                        for o in v.outputs
                    ],
                }
                for v in verdicts
            ]
        )
    else:
        err.print(
            ", ".join(f"{n} {s}" for s, n in counts.items() if n or s == runner.PASS)
            + f" ({len(verdicts)} cases)",
            markup=False,
        )
    return 0 if all(v.ok for v in verdicts) else MISMATCH
