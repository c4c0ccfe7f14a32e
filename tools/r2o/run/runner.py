"""One runner for every backend: stage outputs in a temporary directory, execute, promote on success.

A backend (local Docker, native process) implements :class:`Executor`; this module owns what is
common: the temporary output directory beside the destination, stdout capture for a ``stdout``
output, checking that declared outputs exist, the atomic promotion, and the error on failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from r2o.errors import OutOfMemoryError, RunError, RunTimeoutError, UsageError
from r2o.manifest import OUTPUT_ROOT
from r2o.run.plan import RunPlan

LOG_TAIL_LINES = 20

Echo = Callable[[str, bytes], None]
"""Receives ("stdout" | "stderr", chunk) as the component writes them, for live display."""


@dataclass(frozen=True)
class Execution:
    """What a backend reports about one run."""

    exit_code: int
    stdout: bytes
    stderr: bytes
    seconds: float
    oom_killed: bool = False
    timed_out: bool = False


class Executor(Protocol):
    name: str

    def execute(self, plan: RunPlan, output_dir: Path, echo: Echo | None) -> Execution:
        """Run ``plan`` with ``output_dir`` standing for the container's output root."""
        ...


@dataclass(frozen=True)
class RunResult:
    plan: RunPlan
    output_dir: Path
    execution: Execution
    backend: str


def log_tail(execution: Execution, lines: int = LOG_TAIL_LINES) -> str:
    text = (execution.stderr or execution.stdout).decode("utf-8", "replace").rstrip("\n")
    tail = text.splitlines()[-lines:]
    return "\n".join(f"    | {ln}" for ln in tail) if tail else "    (no output)"


def run(plan: RunPlan, executor: Executor, *, echo: Echo | None = None) -> RunResult:
    """Execute ``plan``; outputs appear in ``plan.output_dir`` only if the run succeeds."""
    dest = plan.output_dir
    _check_destination(plan)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        # The container user (uid 1000) must write here whoever runs r2o.
        os.chmod(staging, 0o777)
        execution = executor.execute(plan, staging, echo)
        _raise_for_failure(plan, execution, executor.name)
        stdout_name = plan.stdout_output
        if stdout_name is not None:
            (staging / "stdout.txt").write_bytes(execution.stdout)
        _check_outputs(plan, staging)
        _promote(staging, dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return RunResult(plan, dest, execution, executor.name)


def _check_destination(plan: RunPlan) -> None:
    """A success replaces the whole output directory: refuse one holding anything but this component's
    outputs (``--output .`` must not delete the working directory)."""
    dest = plan.output_dir
    if not dest.exists():
        return
    if not dest.is_dir():
        raise UsageError(f"output {dest} exists and is not a directory", hint="pass --output a directory")
    ours = {"stdout.txt"} | {
        Path(out.path).relative_to(OUTPUT_ROOT.as_posix()).parts[0]
        for out in plan.component.outputs
        if not out.is_stdout
    }
    foreign = sorted(entry.name for entry in dest.iterdir() if entry.name not in ours)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise UsageError(
            f"output directory {dest} holds files that are not outputs of {plan.component.name} ({shown}); "
            "a successful run replaces the whole directory, so r2o will not run into it",
            hint="pass --output a new or empty directory, or remove that one",
        )


def _raise_for_failure(plan: RunPlan, ex: Execution, backend: str) -> None:
    name = plan.component.name
    rerun = f"rerun with: r2o run {name} ... to see the whole log"
    if ex.timed_out:
        raise RunTimeoutError(
            f"{name} ran past its timeout of {plan.limits.timeout_s} s ({backend}) and was stopped; "
            f"last lines of its log:\n{log_tail(ex)}",
            hint="raise resources.timeout_s in component.yaml if the run legitimately needs longer",
        )
    if ex.oom_killed:
        raise OutOfMemoryError(
            f"{name} was killed at its memory limit of {plan.limits.memory_mib} MiB ({backend}), "
            f"as AWS Batch would kill it; last lines of its log:\n{log_tail(ex)}",
            hint="raise resources.memory_mib in component.yaml, or reduce the component's memory use",
        )
    if ex.exit_code != 0:
        raise RunError(
            f"{name} exited with code {ex.exit_code} ({backend}); last lines of its log:\n{log_tail(ex)}",
            hint=rerun,
        )


def _check_outputs(plan: RunPlan, staging: Path) -> None:
    missing = []
    for out in plan.component.outputs:
        if out.is_stdout:
            continue
        rel = Path(out.path).relative_to(OUTPUT_ROOT.as_posix())
        target = staging / rel
        if not target.exists():
            missing.append(f"{out.name} ({out.path})")
    if missing:
        raise RunError(
            f"{plan.component.name} exited 0 but did not write its declared output(s): {', '.join(missing)}",
            hint="write every output declared in component.yaml, or fix the declared paths",
        )


def _promote(staging: Path, dest: Path) -> None:
    """Replace ``dest`` with ``staging`` so that readers see the old or the new tree, never a mix."""
    if dest.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.rename(dest, trash / "old")
        os.rename(staging, dest)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(staging, dest)
    os.chmod(dest, 0o755)
