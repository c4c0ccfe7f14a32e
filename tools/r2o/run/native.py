"""Run a component's command on the host, for quick iteration without Docker.

Container paths are rewritten to host paths: ``/app/<include>`` to the repository's included
folder, ``/app`` to the component folder, each declared input to the given file, and the output
root to the staging directory. The runner enforces the timeout and the storage limit (each file is
also capped with RLIMIT_FSIZE); memory, network and privilege limits need a container (``r2o run``
without ``--native``). The component runs in its own process group, so that stopping it stops
everything it started.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from r2o.errors import RunError
from r2o.manifest import OUTPUT_ROOT
from r2o.run.plan import RunPlan
from r2o.run.runner import Outcome, Sink

APP_ROOT = "/app"


def path_map(plan: RunPlan, output_dir: Path, repo_root: Path) -> dict[str, str]:
    """Container path prefix -> host path, for every prefix a native run rewrites."""
    comp = plan.component
    mapping = {APP_ROOT: str(comp.folder)}
    for inc in comp.build.include:
        mapping[f"{APP_ROOT}/{inc}"] = str(repo_root / inc)
        # An include's parent folders (e.g. /app/libs for libs/aqdomain) are where PYTHONPATH-style
        # settings point: map them to the repository's folder of the same name.
        parts = inc.strip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            mapping.setdefault(f"{APP_ROOT}/{parent}", str(repo_root / parent))
    for mount in plan.inputs:
        mapping[mount.container] = str(mount.host)
    mapping[OUTPUT_ROOT.as_posix()] = str(output_dir)
    return mapping


def rewrite(text: str, mapping: Mapping[str, str]) -> str:
    """Replace container path prefixes (longest first) where they start a path in ``text``."""
    if not mapping:
        return text
    prefixes = sorted(mapping, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w/.-])(" + "|".join(re.escape(p) for p in prefixes) + r")(?=/|$|[:=,;\s])")
    return pattern.sub(lambda m: mapping[m.group(1)], text)


class NativeExecutor:
    name = "native"

    def __init__(self, repo_root: Path) -> None:
        self.repo_root = repo_root

    def argv(self, plan: RunPlan, output_dir: Path) -> list[str]:
        mapping = path_map(plan, output_dir, self.repo_root)
        argv = [rewrite(a, mapping) for a in (*plan.component.entrypoint, *plan.argv)]
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable  # the interpreter r2o runs under, with numpy and netCDF4
        return argv

    def environment(self, plan: RunPlan, output_dir: Path) -> dict[str, str]:
        mapping = path_map(plan, output_dir, self.repo_root)
        env = dict(os.environ)
        env.update({k: rewrite(v, mapping) for k, v in plan.environment.items()})
        env.update(plan.secrets)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self, plan: RunPlan, output_dir: Path, sink: Sink) -> NativeProcess:
        argv = self.argv(plan, output_dir)
        try:
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=self.environment(plan, output_dir),
                cwd=output_dir,
                # Its own process group, so a timeout also stops the children it started (which would
                # otherwise keep the output pipes open and r2o waiting).
                start_new_session=True,
            )
        except OSError as exc:
            raise RunError(
                f"cannot start {argv[0]} for {plan.component.name} natively: {exc.strerror}",
                hint="install the program on the host, or run in Docker (drop --native)",
            ) from exc
        # Set from outside (prlimit) rather than in preexec_fn, which is unsafe in a threaded r2o.
        cap = plan.limits.storage_mib << 20
        with contextlib.suppress(OSError):
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (cap, cap))
        return NativeProcess(proc, sink)


class NativeProcess:
    """A started process group; one thread per pipe streams its output to the sink."""

    def __init__(self, proc: subprocess.Popen[bytes], sink: Sink) -> None:
        self.proc = proc
        assert proc.stdout is not None and proc.stderr is not None
        self._readers = [
            threading.Thread(target=_pump, args=(proc.stdout, "stdout", sink), daemon=True),
            threading.Thread(target=_pump, args=(proc.stderr, "stderr", sink), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def wait(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        for t in self._readers:
            # A child that outlived its parent may hold the pipes open: stop the group, then drain.
            t.join(timeout=5)
            if t.is_alive():
                self.kill()
                t.join()
        return True

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=60)

    def outcome(self) -> Outcome:
        code = self.proc.poll()
        return Outcome(exit_code=code if code is not None else -signal.SIGKILL)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        else:
            # The leader is gone; children it left in its group are stopped too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        for t in self._readers:
            t.join(timeout=5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def _pump(stream: IO[bytes], name: str, sink: Sink) -> None:
    with contextlib.suppress(ValueError, OSError):  # closed under us by close()
        for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
            sink(name, chunk)
