"""The science benchmarks' runner: one component, natively, as `r2o run --native` runs it.

r2o plans the run (parameters, inputs, the command with container paths rewritten to host paths,
the environment); here it runs in its own process, timed from outside, its peak RSS measured by
/usr/bin/time (Linux carries a process's peak RSS across exec, so a child forked from a numpy-laden
benchmark would report the benchmark's peak; /usr/bin/time forks the component from a small process).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from r2o.repo import Repository
from r2o.run.native import NativeExecutor
from r2o.run.plan import RunPlan, make_plan

REPO = Path(__file__).resolve().parents[1]
GNU_TIME = Path("/usr/bin/time")


@dataclass
class NativeRun:
    component: str
    seconds: float
    peak_rss_mib: float  # NaN without /usr/bin/time
    outputs: dict[str, Path]  # output name -> file (a stdout output is written to stdout.txt)
    stdout: str


def manifest(component: str) -> dict[str, Any]:
    with (REPO / "components" / component / "component.yaml").open() as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict)
    return data


def output_path(container_path: str, outdir: Path) -> Path:
    """Where an output lands on the host: expected/ naming (basename; a stdout output is stdout.txt)."""
    return outdir / ("stdout.txt" if container_path == "stdout" else Path(container_path).name)


def _plan(
    component: str, parameters: Mapping[str, str], inputs: Mapping[str, Path], outdir: Path
) -> tuple[RunPlan, NativeExecutor]:
    plan = make_plan(
        Repository(REPO).components[component],
        parameters=dict(parameters),
        inputs=dict(inputs),
        output_dir=outdir,
    )
    return plan, NativeExecutor(REPO)


def native_command(
    component: str, parameters: Mapping[str, str], inputs: Mapping[str, Path], outdir: Path
) -> list[str]:
    """The component's command as `r2o run --native` runs it (r2o's own plan and path rewriting)."""
    plan, executor = _plan(component, parameters, inputs, outdir)
    return executor.argv(plan, outdir)


def run_native(
    component: str,
    parameters: Mapping[str, str],
    inputs: Mapping[str, Path],
    outdir: Path,
    *,
    one_core: bool = False,
) -> NativeRun:
    """Run one component natively in a child process (``one_core``: pinned to one CPU with one BLAS
    and OpenMP thread); its wall time and peak RSS."""
    outdir.mkdir(parents=True, exist_ok=True)
    plan, executor = _plan(component, parameters, inputs, outdir)
    cmd = executor.argv(plan, outdir)
    env = executor.environment(plan, outdir)
    rss_file = outdir / ".peak_rss_kib"
    if GNU_TIME.exists():
        cmd = [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), *cmd]
    preexec = None
    if one_core:
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        cpu = min(os.sched_getaffinity(0))

        def preexec() -> None:
            os.sched_setaffinity(0, {cpu})

    with tempfile.TemporaryFile() as out_fh, tempfile.TemporaryFile() as err_fh:
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=out_fh, stderr=err_fh, check=False, preexec_fn=preexec)
        seconds = time.perf_counter() - start
        out_fh.seek(0)
        err_fh.seek(0)
        stdout, stderr = out_fh.read(), err_fh.read()
    peak_kib = float("nan")
    if rss_file.exists():
        text = rss_file.read_text().strip().splitlines()
        rss_file.unlink()
        peak_kib = float(text[-1]) if text and text[-1].isdigit() else float("nan")
    if proc.returncode != 0:
        output = stderr.decode(errors="replace") + stdout.decode(errors="replace")
        raise RuntimeError(f"{component} failed (exit {proc.returncode}): {' '.join(cmd)}\n{output}")
    specs = manifest(component)["outputs"]
    outputs = {spec["name"]: output_path(spec["path"], outdir) for spec in specs}
    if any(spec["path"] == "stdout" for spec in specs):
        output_path("stdout", outdir).write_bytes(stdout)
    return NativeRun(component, seconds, peak_kib / 1024.0, outputs, stdout.decode(errors="replace"))
