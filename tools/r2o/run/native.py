"""Run a component's command on the host, for quick iteration without Docker.

Container paths are rewritten to host paths: ``/app/<include>`` to the repository's included
folder, ``/app`` to the component folder, each declared input to the given file, and the output
root to the staging directory. Only the timeout is enforced; memory, network and privilege limits
need a container (``r2o run`` without ``--native``).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from r2o.errors import RunError
from r2o.manifest import OUTPUT_ROOT
from r2o.run.plan import RunPlan
from r2o.run.runner import Echo, Execution

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
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def execute(self, plan: RunPlan, output_dir: Path, echo: Echo | None) -> Execution:
        argv = self.argv(plan, output_dir)
        start = time.monotonic()
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
        chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        assert proc.stdout is not None and proc.stderr is not None
        readers = [
            threading.Thread(target=_pump, args=(proc.stdout, "stdout", chunks["stdout"], echo), daemon=True),
            threading.Thread(target=_pump, args=(proc.stderr, "stderr", chunks["stderr"], echo), daemon=True),
        ]
        for t in readers:
            t.start()
        timed_out = False
        try:
            proc.wait(timeout=plan.limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            for t in readers:
                t.join()
            proc.stdout.close()
            proc.stderr.close()
        return Execution(
            exit_code=proc.returncode,
            stdout=b"".join(chunks["stdout"]),
            stderr=b"".join(chunks["stderr"]),
            seconds=time.monotonic() - start,
            timed_out=timed_out,
        )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _pump(stream: IO[bytes], name: str, sink: list[bytes], echo: Echo | None) -> None:
    for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        sink.append(chunk)
        if echo is not None:
            echo(name, chunk)
