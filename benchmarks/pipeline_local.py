"""The 2-day AQcast run on the local executor (Docker): wall time against the critical path, and a rerun.

    .venv/bin/python benchmarks/pipeline_local.py [--days N] [--jobs J]

Works on a copy of this checkout's source files (what git tracks plus untracked, not ignored files)
with an empty task cache, so every task runs. The images must be built (`r2o build --all`).

- cold run: the wall time of the executor (report.json ``wall_seconds``: scheduling, hashing,
  promotion included) against the critical path of the tasks' container times (the longest chain of
  ``seconds`` through the graph: no schedule can beat it). Goal: wall <= 1.15 x critical path.
- warm run: the same command again, nothing changed: the whole CLI process, wall clock. Goal: <= 3 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from noop_build import copy_sources  # noqa: E402

R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]
RATIO_GOAL = 1.15
WARM_GOAL_S = 3.0
START = "2024-07-15"


def run(repo: Path, days: int, jobs: int | None) -> tuple[float, dict[str, object]]:
    # --prepare-inputs: the synoptic files of every simulated day, the look-ahead day too (0.3 s a day)
    args = [*R2O, "pipeline", "run", "aqcast", "--start", START, "--days", str(days), "--prepare-inputs"]
    if jobs:
        args += ["--jobs", str(jobs)]
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=repo, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"r2o pipeline run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    report = json.loads(
        (repo / ".r2o" / "pipelines" / "aqcast" / f"{START}+{days}d" / "report.json").read_text()
    )
    return seconds, report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="r2o-bench-pipeline-"))
    try:
        repo = tmp / "repo"
        repo.mkdir()
        copy_sources(repo)
        cold_s, cold = run(repo, args.days, args.jobs)
        wall = float(str(cold["wall_seconds"]))
        critical = float(str(cold["critical_path_seconds"]))
        counts = cold["counts"]
        ratio = wall / critical if critical else float("inf")
        print(f"cold run ({args.days} days, {cold['jobs']} vCPUs, {cold['backend']}): {counts}")
        print(f"  executor wall time      {wall:8.2f} s   (CLI process {cold_s:.2f} s)")
        print(f"  critical path (tasks)   {critical:8.2f} s")
        verdict = "ok" if ratio <= RATIO_GOAL else "MISSED"
        print(f"  ratio                   {ratio:8.3f}     goal <= {RATIO_GOAL}  {verdict}")
        warm_s, warm = run(repo, args.days, args.jobs)
        print(f"warm run, nothing changed: {warm['counts']}")
        print(
            f"  CLI process wall time   {warm_s:8.2f} s   goal <= {WARM_GOAL_S} s  "
            f"{'ok' if warm_s <= WARM_GOAL_S else 'MISSED'}"
        )
        ok = ratio <= RATIO_GOAL and warm_s <= WARM_GOAL_S
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
