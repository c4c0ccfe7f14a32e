"""One runner for every backend: stage, start, watch, check what was written, promote on success.

A backend (local Docker, native process) implements :class:`Executor`: it starts the component
and hands back a :class:`Process`. Everything else is here, once for all backends:

1. **Staging.** A private folder (mode 0700, ours) beside the destination, so promotion is a
   rename. Inside it, ``out/`` is what the component sees as ``/data/output``: writable only by the
   container user (uid 1000 when r2o runs as root, else r2o's own user), never by the world.
   The log and a stdout output are written beside ``out/``, where the component cannot reach.
2. **Watching.** The runner waits for the process and stops it (``kill``) when it runs past its
   timeout, when ``out/`` plus its stdout output grow past ``resources.storage_mib``, or when the
   caller asks (``stop``: a pipeline interrupted) or a signal arrives (:class:`r2o.errors.Stopped`).
   Output is streamed to disk as it comes: the log capped (head and tail kept), never held in
   memory.
3. **Checking.** What the component wrote is untrusted data: every entry under ``out/`` is
   ``lstat``-ed; a symbolic link, FIFO, socket, device or hard link to an outside file fails the run
   (:class:`~r2o.errors.UnsafeOutputError`) and nothing is promoted. Declared outputs must exist
   with their declared kind; undeclared ones are reported, and dropped unless the manifest says
   ``outputs_extra: keep``.
4. **Promotion.** Modes normalized (no setuid, no world write), the stdout output moved in, then
   ``out/`` renamed onto the destination: readers see the old tree or the new one, never a mix.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

from r2o import fs
from r2o.errors import (
    OutOfMemoryError,
    RunError,
    RunTimeoutError,
    StorageLimitError,
    UnsafeOutputError,
    UsageError,
)
from r2o.manifest import OUTPUT_ROOT
from r2o.run.logs import CappedLog, LogFile
from r2o.run.plan import RunPlan

LOG_TAIL_LINES = 20
CONTAINER_UID = 1000
POLL_S = 0.05  # how often the storage limit and stop requests are checked while a component runs
NEAR_POLL_S = 0.005  # ... once it has written half its storage limit
KILL_WAIT_S = 60  # how long a killed process may take to be gone
STDOUT_FILE = "stdout.txt"

Echo = Callable[[str, bytes], None]
"""Receives ("stdout" | "stderr", chunk) as the component writes them, for live display."""

Sink = Callable[[str, bytes], None]
"""Where a process delivers its output, chunk by chunk, from the threads that read it."""


@dataclass(frozen=True)
class Outcome:
    """How a finished process ended, as its backend saw it."""

    exit_code: int
    oom_killed: bool = False


class Process(Protocol):
    def wait(self, timeout: float) -> bool:
        """True once the process has exited and its output has been delivered."""
        ...

    def kill(self) -> None:
        """Stop it and everything it started, at once; harmless when already stopped."""
        ...

    def outcome(self) -> Outcome:
        """How it ended (after :meth:`wait` returned True, or after :meth:`kill`)."""
        ...

    def close(self) -> None:
        """Release what the backend holds (a container); harmless twice."""
        ...


class Executor(Protocol):
    name: str

    def start(self, plan: RunPlan, output_dir: Path, sink: Sink) -> Process:
        """Start ``plan`` with ``output_dir`` standing for the container's output root."""
        ...


@dataclass(frozen=True)
class Execution:
    """What happened in one run."""

    exit_code: int
    seconds: float
    log: LogFile
    oom_killed: bool = False
    timed_out: bool = False
    storage_exceeded: bool = False


@dataclass(frozen=True)
class RunResult:
    plan: RunPlan
    output_dir: Path
    execution: Execution
    backend: str
    extra_outputs: tuple[str, ...] = ()  # undeclared entries found (promoted only with outputs_extra: keep)


def container_uid() -> int:
    """The user a container runs as: uid 1000 when r2o is root, else r2o's own user, so that the
    output folder never has to be writable by anyone else."""
    uid = os.geteuid()
    return CONTAINER_UID if uid == 0 else uid


def log_tail(execution: Execution, lines: int = LOG_TAIL_LINES) -> str:
    tail = execution.log.tail(lines)
    return "\n".join(f"    | {ln}" for ln in tail.splitlines()) if tail else "    (no output)"


class _Streams:
    """The sink every backend writes to: the capped log, the stdout output, the live echo."""

    def __init__(self, log: CappedLog, stdout_file: IO[bytes] | None, echo: Echo | None, limit: int) -> None:
        self.log = log
        self.stdout_file = stdout_file
        self.echo = echo
        self.limit = limit
        self.stdout_bytes = 0
        self.over = False
        self._lock = threading.Lock()

    def __call__(self, stream: str, chunk: bytes) -> None:
        with self._lock:
            self.log.write(chunk)
            if stream == "stdout" and self.stdout_file is not None and not self.over:
                if self.stdout_bytes + len(chunk) > self.limit:
                    self.over = True  # the storage limit counts the stdout output too
                else:
                    self.stdout_file.write(chunk)
                    self.stdout_bytes += len(chunk)
        if self.echo is not None:
            self.echo(stream, chunk)


def run(
    plan: RunPlan,
    executor: Executor,
    *,
    echo: Echo | None = None,
    stop: threading.Event | None = None,
    log_path: Path | None = None,
    on_staging: Callable[[Path], None] | None = None,
) -> RunResult:
    """Execute ``plan``; its outputs appear in ``plan.output_dir`` only if the run succeeds.

    ``stop`` set by another thread stops the run (KeyboardInterrupt is raised here); the log is
    written to ``log_path`` when given (as the run goes on), whatever the outcome; ``on_staging``
    is told the staging folder before it is made, so that a crash can be cleaned up
    (r2o.workspace)."""
    dest = plan.output_dir
    _check_destination(plan)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging_name(dest)
    if on_staging is not None:
        on_staging(staging)
    os.mkdir(staging, 0o700)
    try:
        out = staging / "out"
        os.mkdir(out, 0o700)
        uid = container_uid()
        if uid != os.geteuid():
            os.chown(out, uid, uid)
        execution = _execute(plan, executor, staging, out, echo, stop, log_path)
        _raise_for_failure(plan, execution, executor.name)
        extra = _check_outputs(plan, out, staging / STDOUT_FILE)
        fs.normalize_modes(out)
        fs.replace_dir(out, dest)
    finally:
        fs.remove_tree(staging)
    return RunResult(plan, dest, execution, executor.name, extra)


def _staging_name(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.partial-{os.getpid()}-{os.urandom(4).hex()}"


def _execute(
    plan: RunPlan,
    executor: Executor,
    staging: Path,
    out: Path,
    echo: Echo | None,
    stop: threading.Event | None,
    log_path: Path | None,
) -> Execution:
    limit = plan.limits.storage_mib << 20
    if log_path is not None:  # written in place, so that it can be followed while the run goes on
        log_path.parent.mkdir(parents=True, exist_ok=True)
        for old in (log_path, *log_path.parent.glob(f".{log_path.name}.tail*")):
            fs.remove_tree(old)
    log = CappedLog(log_path if log_path is not None else staging / "log.txt")
    stdout_file = (staging / STDOUT_FILE).open("xb") if plan.stdout_output is not None else None
    streams = _Streams(log, stdout_file, echo, limit)
    start = time.monotonic()
    timed_out = over = False
    process: Process | None = None
    try:
        process = executor.start(plan, out, streams)
        deadline = start + plan.limits.timeout_s
        poll = POLL_S
        while not process.wait(poll):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            if time.monotonic() >= deadline:
                timed_out = True
            else:
                tick = time.monotonic()
                used = fs.usage(out, budget=limit) + streams.stdout_bytes
                over = streams.over or used > limit
                # Near the limit, look often (a component can write a GB/s); a large output tree takes
                # longer to walk: far from the limit, spend at most a tenth of the time walking it.
                walk = time.monotonic() - tick
                poll = max(NEAR_POLL_S, 2 * walk) if used > limit // 2 else max(POLL_S, 10 * walk)
            if timed_out or over:
                process.kill()
                process.wait(KILL_WAIT_S)
                break
        outcome = process.outcome()
        # Checked once more at the end: a quick component may finish between two polls. A file that
        # hit its size cap (RLIMIT_FSIZE) fails the write and the component then exits non-zero:
        # that too is the storage limit, not the component's own failure.
        used = fs.usage(out, budget=limit) + streams.stdout_bytes
        over = over or streams.over or used > limit or (outcome.exit_code != 0 and used >= limit)
    except BaseException:
        if process is not None:
            process.kill()
        raise
    finally:
        if process is not None:
            process.close()
        if stdout_file is not None:
            stdout_file.close()
        logfile = log.close()
    return Execution(
        exit_code=outcome.exit_code,
        seconds=time.monotonic() - start,
        log=logfile,
        oom_killed=outcome.oom_killed,
        timed_out=timed_out,
        storage_exceeded=over,
    )


def _output_top_names(plan: RunPlan) -> set[str]:
    return {STDOUT_FILE} | {
        PurePosixPath(out.path).relative_to(OUTPUT_ROOT).parts[0]
        for out in plan.component.outputs
        if not out.is_stdout
    }


def _check_destination(plan: RunPlan) -> None:
    """A success replaces the whole output directory: refuse one holding anything but this component's
    outputs (``--output .`` must not delete the working directory)."""
    dest = plan.output_dir
    if dest.is_symlink():
        raise UsageError(f"output {dest} is a symbolic link", hint="pass --output a real directory")
    if not dest.exists():
        return
    if not dest.is_dir():
        raise UsageError(f"output {dest} exists and is not a directory", hint="pass --output a directory")
    ours = _output_top_names(plan)
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
            status=ex.exit_code,
        )
    if ex.storage_exceeded:
        raise StorageLimitError(
            f"{name} was killed at its storage limit of {plan.limits.storage_mib} MiB ({backend}): its "
            f"outputs under {OUTPUT_ROOT} grew past resources.storage_mib; last lines of its log:\n"
            f"{log_tail(ex)}",
            hint="raise resources.storage_mib in component.yaml, or make the component write less",
            status=ex.exit_code,
        )
    if ex.oom_killed:
        raise OutOfMemoryError(
            f"{name} was killed at its memory limit of {plan.limits.memory_mib} MiB ({backend}), "
            f"as AWS Batch would kill it; last lines of its log:\n{log_tail(ex)}",
            hint="raise resources.memory_mib in component.yaml, or reduce the component's memory use",
            status=ex.exit_code,
        )
    if ex.exit_code != 0:
        raise RunError(
            f"{name} exited with code {ex.exit_code} ({backend}); last lines of its log:\n{log_tail(ex)}",
            hint=rerun,
            status=ex.exit_code,
        )


def _check_outputs(plan: RunPlan, out: Path, stdout_path: Path) -> tuple[str, ...]:
    """Refuse unsafe entries and missing or mistyped declared outputs; handle undeclared ones.
    Moves the stdout output into ``out``; returns the undeclared entries found."""
    name = plan.component.name
    found = fs.scan(out)
    if found.problems:
        raise UnsafeOutputError(
            f"{name} wrote entries under {OUTPUT_ROOT} that r2o never follows, copies or promotes:\n"
            f"{found.problem_text()}\nnothing was promoted",
            hint="write regular files and folders only (no links, FIFOs, sockets or devices)",
        )
    missing: list[str] = []
    mistyped: list[str] = []
    declared: set[str] = set()
    for spec in plan.component.outputs:
        if spec.is_stdout:
            continue
        rel = PurePosixPath(spec.path).relative_to(OUTPUT_ROOT).as_posix()
        declared.add(rel)
        entry = found.entries.get(rel)
        want = "folder" if spec.kind == "directory" else "file"
        if entry is None:
            missing.append(f"{spec.name} ({spec.path})")
        elif entry.kind != want:
            mistyped.append(f"{spec.name} ({spec.path}) is a {entry.kind}, declared a {want}")
    if plan.stdout_output is not None:
        if STDOUT_FILE in found.entries:
            raise UnsafeOutputError(
                f"{name} wrote {OUTPUT_ROOT}/{STDOUT_FILE}, the file r2o keeps its stdout output in",
                hint="write the file under another name, or drop the stdout output from component.yaml",
            )
        declared.add(STDOUT_FILE)
    if mistyped:
        raise UnsafeOutputError(
            f"{name} wrote outputs of the wrong type: {'; '.join(mistyped)}",
            hint="write each output as the kind component.yaml declares (kind: file or directory)",
        )
    if missing:
        raise RunError(
            f"{name} exited 0 but did not write its declared output(s): {', '.join(missing)}",
            hint="write every output declared in component.yaml, or fix the declared paths",
        )
    extra = sorted(
        rel
        for rel in found.entries
        if rel not in declared
        and not any(rel.startswith(d + "/") or d.startswith(rel + "/") for d in declared)
    )
    # Only the topmost undeclared entries: a folder stands for what is inside it.
    top = [e for e in extra if not any(e.startswith(o + "/") for o in extra)]
    if top and plan.component.outputs_extra != "keep":
        for rel in reversed(top):
            fs.remove_tree(out / rel)
    if plan.stdout_output is not None:
        os.replace(stdout_path, out / STDOUT_FILE)
    return tuple(top)
