"""Wall times of one AQcast day (and its look-ahead day) under r2o's local executor, cwltool and Toil.

    .venv/bin/python benchmarks/cwl_engines.py [--start 2024-07-15]

The same task graph four ways, in the same local images (`r2o build --all` first): `r2o pipeline run
aqcast --days 1` on a copy of this checkout with an empty task cache, and the workflow `r2o export cwl
--pipeline aqcast --days 1` writes, under `cwltool` and under `toil-cwl-runner --batchSystem
single_machine`, and under `cwltool --provenance` (which also writes a research object). Each figure
is the whole command's wall clock; the CWL engines run the cold chain too (they keep no cache between
runs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from noop_build import copy_sources  # noqa: E402

R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]
BIN = Path(sys.executable).parent


def timed(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # Toil's helpers
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{Path(args[0]).name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", default="2024-07-15")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="r2o-bench-cwl-"))
    try:
        repo = tmp / "repo"
        repo.mkdir()
        copy_sources(repo)
        coarse = repo / ".r2o" / "inputs" / "coarse"
        coarse.mkdir(parents=True)
        for i in range(2):  # the reported day and the look-ahead day
            day = (dt.date.fromisoformat(args.start) + dt.timedelta(days=i)).isoformat()
            subprocess.run(
                [
                    sys.executable,
                    "components/wrf/synoptic.py",
                    "--date",
                    day,
                    "--out",
                    str(coarse / f"coarse_{day}.nc"),
                ],
                cwd=repo,
                check=True,
                capture_output=True,
            )
        cwl = tmp / "cwl"
        export = [*R2O, "export", "cwl", "--pipeline", "aqcast", "--start", args.start, "--days", "1"]
        timed([*export, "--out", str(cwl)], repo)
        tasks = len(yaml.safe_load((cwl / "aqcast.cwl").read_text())["steps"])
        workflow, job = str(cwl / "aqcast.cwl"), str(cwl / "aqcast.job.yml")
        figures = {
            "r2o pipeline run (local executor)": timed(
                [*R2O, "pipeline", "run", "aqcast", "--start", args.start, "--days", "1"], repo
            ),
            "cwltool": timed([str(BIN / "cwltool"), "--outdir", str(tmp / "cwltool"), workflow, job], tmp),
            # the same, also writing a research object (a BagIt copy of every input and output, PROV)
            "cwltool --provenance": timed(
                [
                    str(BIN / "cwltool"),
                    "--provenance",
                    str(tmp / "ro"),
                    "--outdir",
                    str(tmp / "cwltool-ro"),
                    workflow,
                    job,
                ],
                tmp,
            ),
            "toil-cwl-runner (single_machine)": timed(
                [
                    str(BIN / "toil-cwl-runner"),
                    "--batchSystem",
                    "single_machine",
                    "--no-prepull",  # the images are local; a pull would ask a registry
                    "--jobStore",
                    str(tmp / "jobstore"),
                    "--workDir",
                    str(tmp),
                    "--outdir",
                    str(tmp / "toil"),
                    workflow,
                    job,
                ],
                tmp,
            ),
        }
        print(f"aqcast {args.start} +1 day (and its look-ahead day): {tasks} CWL steps, same images")
        for name, seconds in figures.items():
            print(f"  {name:<36} {seconds:8.1f} s")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
