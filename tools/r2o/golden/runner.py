"""Run golden cases and judge them; record expected outputs.

A case runs through the one runner (r2o.run.runner) with any backend; each declared output is
compared with ``expected/`` by the compare engine under the case's rules. ``repeat`` runs the case
more than once and demands bit-identical outputs across runs.
"""

from __future__ import annotations

import filecmp
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from r2o import fs, workspace
from r2o.compare import Comparison, compare
from r2o.errors import CannotCompareError, InputError, NotFoundError, R2OError
from r2o.golden.cases import Case, FromOutput, case_folders, cases_of
from r2o.manifest import OUTPUT_ROOT, Component, DataSpec
from r2o.repo import Repository
from r2o.run.plan import make_plan
from r2o.run.runner import Executor, RunResult, run

PASS = "pass"
FAIL = "fail"
ERROR = "error"
NOT_DETERMINISTIC = "not deterministic"


@dataclass(frozen=True)
class OutputVerdict:
    output: str
    equal: bool
    report: str  # readable report (cprnc-like for netCDF), or why it could not be compared
    comparison: Comparison | None = None


@dataclass(frozen=True)
class CaseVerdict:
    case: Case
    status: str  # PASS, FAIL, ERROR, NOT_DETERMINISTIC
    seconds: float
    outputs: tuple[OutputVerdict, ...] = ()
    message: str = ""
    nondeterministic: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status == PASS


def output_path(run_dir: Path, spec: DataSpec) -> Path:
    """Where a run put output ``spec`` (stdout is saved as stdout.txt)."""
    if spec.is_stdout:
        return run_dir / "stdout.txt"
    return run_dir / Path(spec.path).relative_to(OUTPUT_ROOT.as_posix())


def resolve_inputs(repo: Repository, case: Case) -> dict[str, Path]:
    """Case inputs as host paths; ``from:`` inputs point at another case's expected output, which
    must lie inside the repository and be a regular file or folder reached through no link."""
    out: dict[str, Path] = {}
    for name, source in case.inputs.items():
        if isinstance(source, FromOutput):
            out[name] = _from_output(repo, case, name, source)
        else:
            out[name] = source
    return out


def _from_output(repo: Repository, case: Case, name: str, source: FromOutput) -> Path:
    where = f"{repo.rel(case.folder / 'case.yaml')}: inputs.{name}.from"
    producer = repo.component(source.component)
    cases = [f.name for f in case_folders(producer)]
    if source.case not in cases:
        raise NotFoundError(
            f"{where}: {source.component} has no golden case '{source.case}'",
            hint=f"cases of {source.component}: {', '.join(cases) or 'none'}",
        )
    spec = producer.output(source.output)
    path = producer.folder / "tests" / "golden" / source.case / "expected" / spec.filename
    problem = _link_on_the_way(repo.root, path)
    if problem:
        raise InputError(
            f"{where}: {problem}",
            hint="golden inputs are plain files inside the repository; replace the link",
        )
    if not path.exists():
        raise NotFoundError(
            f"{case.id}: input '{name}' comes from {source.component}/{source.case} output "
            f"'{source.output}', which has no recorded expected file ({repo.rel(path)})",
            hint=f"record it first: r2o golden record {source.component} --case {source.case}",
        )
    return path


def _link_on_the_way(root: Path, path: Path) -> str:
    """Why ``path`` (under ``root``) must not be used: a link or special file on the way, or ""."""
    rel = path.relative_to(root)
    current = root
    for part in rel.parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return ""
        if stat.S_ISLNK(mode):
            target = os.readlink(current)
            return f"{current.relative_to(root)} is a symbolic link (to {target}); r2o never follows it"
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            return f"{current.relative_to(root)} is a {fs.kind_of(mode)}"
    return ""


def run_case(
    repo: Repository, component: Component, case: Case, executor: Executor, image: str | None, dest: Path
) -> RunResult:
    plan = make_plan(
        component,
        parameters=dict(case.parameters),
        inputs=resolve_inputs(repo, case),
        output_dir=dest,
        image=image,
    )
    return run(plan, executor)


def compare_outputs(
    component: Component, case: Case, actual_of: Callable[[DataSpec], Path], expected_dir: Path
) -> list[OutputVerdict]:
    """Each declared output (found by ``actual_of``) against ``expected_dir``, whose entries must be
    regular files or folders: a link there is reported, never followed."""
    verdicts = []
    for spec in component.outputs:
        actual = actual_of(spec)
        expected = expected_dir / spec.filename
        refused = _refused_expected(expected_dir, expected)
        if refused:
            verdicts.append(OutputVerdict(spec.name, False, f"cannot compare: {refused}"))
            continue
        if not expected.exists():
            verdicts.append(
                OutputVerdict(
                    spec.name,
                    False,
                    f"no expected file {spec.filename}: "
                    f"record it with r2o golden record {component.name} --case {case.name}",
                )
            )
            continue
        try:
            result = compare(expected, actual, case.rules[spec.name])
        except CannotCompareError as exc:
            verdicts.append(OutputVerdict(spec.name, False, f"cannot compare: {exc}"))
            continue
        verdicts.append(OutputVerdict(spec.name, result.equal, result.render_text(), result))
    return verdicts


def _refused_expected(expected_dir: Path, expected: Path) -> str:
    """Why an expected entry is not used ("" when it is fine or absent)."""
    for path in (expected_dir, expected):
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return ""
        if stat.S_ISLNK(mode):
            return f"{path.name} in {path.parent} is a symbolic link; r2o never follows links in expected/"
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return f"{path.name} in {path.parent} is a {fs.kind_of(mode)}, not a regular file"
    if expected.is_dir():
        found = fs.scan(expected, outside_links=False)
        if found.problems:
            return f"{expected} holds entries r2o never follows:\n{found.problem_text()}"
    return ""


def _identical(a: Path, b: Path) -> bool:
    if a.is_dir() and b.is_dir():
        cmp = filecmp.dircmp(a, b)
        if cmp.left_only or cmp.right_only or cmp.funny_files:
            return False
        _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
        return not mismatch and not errors and all(_identical(a / d, b / d) for d in cmp.common_dirs)
    return a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)


def check_case(
    repo: Repository,
    component: Component,
    case: Case,
    executor: Executor,
    image: str | None,
    *,
    repeat: int = 1,
) -> CaseVerdict:
    start = time.monotonic()
    tmp = workspace.session(repo.root).tempdir("golden-")
    try:
        runs: list[Path] = []
        try:
            for i in range(max(1, repeat)):
                result = run_case(repo, component, case, executor, image, tmp / f"run{i}")
                runs.append(result.output_dir)
        except R2OError as exc:
            return CaseVerdict(case, ERROR, time.monotonic() - start, message=str(exc))
        first = runs[0]
        outputs = tuple(compare_outputs(component, case, lambda s: output_path(first, s), case.expected_dir))
        differing = tuple(
            spec.name
            for spec in component.outputs
            if any(not _identical(output_path(runs[0], spec), output_path(r, spec)) for r in runs[1:])
        )
    finally:
        fs.remove_tree(tmp)
    seconds = time.monotonic() - start
    if differing:
        return CaseVerdict(
            case,
            NOT_DETERMINISTIC,
            seconds,
            outputs,
            f"not deterministic: {', '.join(differing)} differ between {len(runs)} runs",
            differing,
        )
    status = PASS if all(o.equal for o in outputs) else FAIL
    return CaseVerdict(case, status, seconds, outputs)


def check_component(
    repo: Repository,
    component: Component,
    executor: Executor,
    image: str | None,
    *,
    case: str | None = None,
    repeat: int = 1,
    on_verdict: Callable[[CaseVerdict], None] | None = None,
) -> list[CaseVerdict]:
    verdicts = []
    for c in cases_of(component, case):
        verdict = check_case(repo, component, c, executor, image, repeat=repeat)
        if on_verdict is not None:
            on_verdict(verdict)
        verdicts.append(verdict)
    return verdicts


@dataclass(frozen=True)
class Recorded:
    case: Case
    created: bool  # False when an existing expected/ was replaced
    changes: tuple[OutputVerdict, ...]  # differences from the previous expected/ (with --force)


def record(
    repo: Repository,
    component: Component,
    executor: Executor,
    image: str | None,
    *,
    case: str | None = None,
    force: bool = False,
) -> list[Recorded]:
    """Run each case and write its outputs to expected/, replacing it only with ``force``."""
    cases = cases_of(component, case)
    existing = [c for c in cases if c.expected_dir.exists() and any(c.expected_dir.iterdir())]
    if existing and not force:
        names = ", ".join(c.name for c in existing)
        raise InputError(
            f"{component.name}: expected outputs already exist for {names}; not overwriting",
            hint="rerun with --force to replace them (r2o reports what changed)",
        )
    done = []
    session = workspace.session(repo.root)
    for c in cases:
        lock = repo.root / ".r2o" / "locks" / "golden" / component.name / f"{c.name}.lock"
        with fs.exclusive(
            lock,
            f"golden case {c.id}",
            hint="another `r2o golden record` is recording it; wait for it, then check with r2o test",
        ):
            done.append(_record_case(repo, component, c, executor, image, session))
    return done


def _record_case(
    repo: Repository,
    component: Component,
    c: Case,
    executor: Executor,
    image: str | None,
    session: workspace.Session,
) -> Recorded:
    tmp = session.tempdir("record-")
    staging = c.folder / f".expected.partial-{session.id}"
    session.note_external(staging)
    try:
        result = run_case(repo, component, c, executor, image, tmp / "out")
        os.mkdir(staging, 0o755)
        # The run's outputs passed the runner's checks; copy them without following anything anyway.
        for spec in component.outputs:
            src = output_path(result.output_dir, spec)
            if src.is_dir():
                fs.copy_tree(src, staging / spec.filename)
            else:
                fs.copy_file(src, staging / spec.filename)
        had = c.expected_dir.exists()
        changes: tuple[OutputVerdict, ...] = ()
        if had:

            def recorded(spec: DataSpec) -> Path:
                return staging / spec.filename

            changes = tuple(v for v in compare_outputs(component, c, recorded, c.expected_dir) if not v.equal)
        fs.replace_dir(staging, c.expected_dir)
        return Recorded(c, not had, changes)
    finally:
        fs.remove_tree(staging)
        fs.remove_tree(tmp)


def all_cases(repo: Repository, names: Iterable[str]) -> list[tuple[Component, list[Case]]]:
    return [(repo.component(n), cases_of(repo.component(n))) for n in names]
