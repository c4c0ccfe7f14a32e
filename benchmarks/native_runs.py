"""The science benchmarks' runner: one component, natively, as its component.yaml says.

The manifest's command with ``Ref::`` parameters filled and container paths mapped to host paths
(``/app/...`` to the component folder, inputs to the given files, an input not given to a path that
does not exist, outputs and ``/data/output`` to ``outdir``) runs in its own process, timed from
outside, its peak RSS measured by /usr/bin/time (Linux carries a process's peak RSS across exec, so
a child forked from a numpy-laden benchmark would report the benchmark's peak; /usr/bin/time forks
the component from a small process instead).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
LIBS = REPO / "libs"
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


def native_command(
    component: str, parameters: Mapping[str, str], inputs: Mapping[str, Path], outdir: Path
) -> list[str]:
    """The component's command with Ref:: parameters filled and container paths mapped to host paths."""
    man = manifest(component)
    folder = REPO / "components" / component
    values = {name: str(spec.get("default", "")) for name, spec in man.get("parameters", {}).items()}
    values.update(parameters)
    paths = {
        spec["path"]: str(inputs.get(spec["name"], outdir / "absent" / Path(spec["path"]).name))
        for spec in man["inputs"]
    }
    paths.update({spec["path"]: str(output_path(spec["path"], outdir)) for spec in man["outputs"]})
    paths["/data/output"] = str(outdir)
    cmd = []
    for arg in man["command"]:
        if arg.startswith("Ref::"):
            arg = values[arg[5:]]
        arg = paths.get(arg, arg)
        if arg.startswith("/app/"):
            arg = str(folder / arg[5:])
        cmd.append(arg)
    if cmd[0] == "python3":
        cmd[0] = sys.executable
    return cmd


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
    cmd = native_command(component, parameters, inputs, outdir)
    env = dict(os.environ, PYTHONPATH=str(LIBS))
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
