"""Run a buildspec on this machine as CodeBuild would (`r2o ci run-buildspec`).

What is emulated, from the CodeBuild reference:

- phases run in order (install, pre_build, build, post_build); within a phase commands stop at the
  first failure, then ``finally`` runs. A failure in install or pre_build ends the build; a failure
  in build still runs post_build; ``on-failure: CONTINUE`` goes on to the next phase (the build
  still fails). ``CODEBUILD_BUILD_SUCCEEDING`` is 1 or 0 accordingly.
- every command runs in the buildspec's shell; as in version 0.2, the working directory and
  exported variables carry over from one command to the next (shell variables that are not
  exported do not: export what later commands need).
- variables, lowest precedence first: this process's environment, the buildspec's env.variables,
  the "project" variables given to the runner (registry, base revision), a batch node's variables,
  then the CODEBUILD_* variables.
- a batch runs its builds in dependency order (build-graph ``depend-on``), independent builds in
  parallel up to ``jobs`` (default: the core count). After a failure of a build without
  ``ignore-failure`` no new build starts (running ones finish); a build whose dependency failed
  never starts.

Not emulated: runtime-versions, run-as, secrets, artifacts upload, report groups (the report files
are left where the buildspec wrote them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from r2o import git
from r2o.ci import buildspec as bs
from r2o.ci.buildspec import CONTINUE, BatchNode, Buildspec, Phase

SUCCEEDED = "succeeded"
FAILED = "failed"
NOT_STARTED = "not started"

# The wrapper evaluates one command, then saves the exported environment and working directory
# for the next one (CodeBuild 0.2 runs all commands in one shell instance).
_WRAPPER = 'eval "$3"\n__r2o_rc=$?\nenv -0 > "$1"\npwd > "$2"\nexit "$__r2o_rc"\n'

OnLine = Callable[[str, str], None]
"""Receives (build identifier, output line)."""


@dataclass(frozen=True)
class BuildOutcome:
    identifier: str
    status: str  # SUCCEEDED, FAILED or NOT_STARTED
    seconds: float = 0.0
    failed_phase: str | None = None
    reason: str = ""
    ignore_failure: bool = False
    log: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchOutcome:
    builds: tuple[BuildOutcome, ...]

    @property
    def succeeded(self) -> bool:
        return all(b.status == SUCCEEDED or (b.status == FAILED and b.ignore_failure) for b in self.builds)

    def build(self, identifier: str) -> BuildOutcome:
        return next(b for b in self.builds if b.identifier == identifier)


@dataclass
class _Shell:
    """One build's shell state: exported variables and working directory, carried between commands."""

    program: str
    env: dict[str, str]
    cwd: Path
    log: list[str] = field(default_factory=list)

    def run(self, command: str, emit: Callable[[str], None]) -> int:
        with tempfile.TemporaryDirectory(prefix="r2o-buildspec-") as tmp:
            env_file, cwd_file = Path(tmp) / "env", Path(tmp) / "cwd"
            shell = "bash" if self.program == "bash" else self.program
            with subprocess.Popen(
                [shell, "-c", _WRAPPER, "r2o-buildspec", str(env_file), str(cwd_file), command],
                cwd=self.cwd,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            ) as proc:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    self.log.append(line)
                    emit(line)
                code = proc.wait()
            if env_file.exists():
                saved = env_file.read_bytes().decode("utf-8", "surrogateescape").split("\0")
                self.env = dict(item.split("=", 1) for item in saved if "=" in item)
            if cwd_file.exists():
                where = cwd_file.read_text().strip()
                if where and Path(where).is_dir():
                    self.cwd = Path(where)
        return code


def _say(shell: _Shell, emit: Callable[[str], None], text: str) -> None:
    shell.log.append(text)
    emit(text)


def _run_phase(shell: _Shell, phase: Phase, emit: Callable[[str], None]) -> bool:
    _say(shell, emit, f"[phase {phase.name}]")
    ok = True
    for command in phase.commands:
        shown = command.strip().splitlines()[0] + (" ..." if "\n" in command.strip() else "")
        _say(shell, emit, f"$ {shown}")
        code = shell.run(command, emit)
        if code != 0:
            _say(shell, emit, f"[phase {phase.name} failed: command exited with {code}]")
            ok = False
            break
    for command in phase.finally_commands:
        _say(shell, emit, f"$ {command.strip().splitlines()[0]}  (finally)")
        if shell.run(command, emit) != 0:
            ok = False
            break
    return ok


def run_phases(
    spec: Buildspec,
    env: Mapping[str, str],
    cwd: Path,
    emit: Callable[[str], None],
    identifier: str = "build",
    ignore_failure: bool = False,
) -> BuildOutcome:
    """One build: every phase of ``spec`` in CodeBuild's order and transition rules."""
    start = time.monotonic()
    shell = _Shell(spec.shell, dict(env), cwd)
    failed: str | None = None
    only_post_build = False  # after a build phase that failed and aborts
    for name in bs.PHASES:
        phase = spec.phase(name)
        if phase is None or (only_post_build and name != "post_build"):
            continue
        shell.env["CODEBUILD_BUILD_SUCCEEDING"] = "0" if failed else "1"
        if _run_phase(shell, phase, emit):
            continue
        failed = failed or name
        if phase.on_failure == CONTINUE:
            continue
        if name != "build":
            break
        only_post_build = True
    seconds = time.monotonic() - start
    status = FAILED if failed else SUCCEEDED
    reason = f"phase {failed} failed" if failed else ""
    return BuildOutcome(identifier, status, seconds, failed, reason, ignore_failure, tuple(shell.log))


def codebuild_variables(root: Path, identifier: str, build_id: str) -> dict[str, str]:
    """The CODEBUILD_* variables a build sees (those r2o's buildspec reads, and a few more)."""
    head = git.head_commit(root)
    out = {
        "CODEBUILD_SRC_DIR": str(root),
        "CODEBUILD_BUILD_ID": f"local:{build_id}",
        "CODEBUILD_INITIATOR": "r2o ci run-buildspec",
        "CODEBUILD_BATCH_BUILD_IDENTIFIER": identifier,
        "CODEBUILD_CI": "true",
    }
    if head != git.UNKNOWN:
        out["CODEBUILD_RESOLVED_SOURCE_VERSION"] = head
        out["CODEBUILD_SOURCE_VERSION"] = head
    return out


def _base_env(spec: Buildspec, project: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    # The r2o running this command is the one the buildspec's commands should find first.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(spec.variables)
    env.update(project)
    return env


def run_buildspec(
    spec: Buildspec,
    root: Path,
    *,
    project: Mapping[str, str] | None = None,
    jobs: int | None = None,
    on_line: OnLine | None = None,
) -> BatchOutcome:
    """Run ``spec`` from ``root``: its batch builds in dependency order, or its phases once."""
    project = dict(project or {})
    emit_to = on_line or (lambda ident, line: None)
    batch_id = uuid.uuid4().hex[:8]
    base_env = _base_env(spec, project)
    if spec.batch_kind is None:
        env = {**base_env, **codebuild_variables(root, "build", batch_id)}
        env.pop("CODEBUILD_BATCH_BUILD_IDENTIFIER")
        return BatchOutcome((run_phases(spec, env, root, lambda line: emit_to("build", line)),))
    if spec.batch_kind == "build-fanout":
        outcome = BuildOutcome("batch", FAILED, reason="r2o cannot run a build-fanout")
        return BatchOutcome((outcome,))

    def one(node: BatchNode) -> BuildOutcome:
        node_spec = spec if node.buildspec is None else bs.load(root / node.buildspec)
        env = {
            **base_env,
            **node_spec.variables,
            **project,
            **node.variables,
            **codebuild_variables(root, node.identifier, f"{batch_id}-{node.identifier}"),
        }
        return run_phases(
            node_spec,
            env,
            root,
            lambda line: emit_to(node.identifier, line),
            node.identifier,
            node.ignore_failure,
        )

    return run_graph(spec.nodes, one, jobs=jobs or os.cpu_count() or 1)


def run_graph(
    nodes: Sequence[BatchNode], run_one: Callable[[BatchNode], BuildOutcome], *, jobs: int
) -> BatchOutcome:
    """Run ``nodes`` in dependency order, up to ``jobs`` at once; see the module docstring for failures."""
    by_id = {n.identifier: n for n in nodes}
    outcomes: dict[str, BuildOutcome] = {}
    running: dict[Future[BuildOutcome], str] = {}
    stopped_by: str | None = None
    jobs = max(1, jobs)

    def schedule(pool: ThreadPoolExecutor) -> None:
        """Start what can start; mark what never will. Repeats until nothing changes."""
        changed = True
        while changed:
            changed = False
            for node in nodes:
                ident = node.identifier
                if ident in outcomes or ident in running.values():
                    continue
                deps = [d for d in node.depend_on if d in by_id]
                failed_deps = [d for d in deps if d in outcomes and outcomes[d].status != SUCCEEDED]
                if failed_deps:
                    outcomes[ident] = BuildOutcome(
                        ident,
                        NOT_STARTED,
                        ignore_failure=node.ignore_failure,
                        reason=f"{failed_deps[0]} did not succeed",
                    )
                    changed = True
                elif stopped_by is None and all(d in outcomes for d in deps) and len(running) < jobs:
                    running[pool.submit(run_one, node)] = ident

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="r2o-build") as pool:
        while True:
            schedule(pool)
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                ident = running.pop(future)
                node = by_id[ident]
                try:
                    outcome = future.result()
                except Exception as exc:  # a bug in a runner must not hang the batch
                    outcome = BuildOutcome(
                        ident,
                        FAILED,
                        reason=f"{type(exc).__name__}: {exc}",
                        ignore_failure=node.ignore_failure,
                    )
                outcomes[ident] = outcome
                if outcome.status == FAILED and not node.ignore_failure and stopped_by is None:
                    stopped_by = ident
    for node in nodes:
        if node.identifier not in outcomes:
            outcomes[node.identifier] = BuildOutcome(
                node.identifier,
                NOT_STARTED,
                reason=f"the batch stopped after {stopped_by} failed",
                ignore_failure=node.ignore_failure,
            )
    return BatchOutcome(tuple(outcomes[n.identifier] for n in nodes))
