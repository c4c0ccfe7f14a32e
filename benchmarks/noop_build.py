"""A no-op `r2o build --all`: every tag already exists, so nothing may be built (goal: <= 2 s, zero builds).

    .venv/bin/python benchmarks/noop_build.py [--runs N]

Works on a copy of this checkout's source files (what git tracks plus untracked, not ignored files),
so the content tags equal this checkout's and other work in the tree cannot disturb the figures. A
first `r2o build --all` builds whatever is missing (not timed); then N timed runs must build nothing.
The wall time includes starting the CLI, computing every tag from the tree and asking the engine.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]
GOAL_S = 2.0
SUMMARY = re.compile(r"r2o: (\d+) built or pushed, (\d+) up to date")


def copy_sources(dest: Path) -> int:
    listed = (
        subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    count = 0
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
            count += 1
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.email=bench@example.invalid", "-c", "user.name=bench", "commit", "-q", "-m", "bench"],
    ):
        subprocess.run(["git", "-C", str(dest), *args], check=True, capture_output=True)
    return count


def build_all(repo: Path) -> tuple[float, int, int, str]:
    start = time.perf_counter()
    proc = subprocess.run([*R2O, "build", "--all"], cwd=repo, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"r2o build --all failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    match = SUMMARY.search(proc.stderr)
    if match is None:
        sys.exit(f"no summary line in the output of r2o build --all:\n{proc.stderr[-3000:]}")
    return seconds, int(match[1]), int(match[2]), proc.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="timed no-op runs (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="r2o-noop-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        files = copy_sources(repo)
        print(f"repository copy: {files} files")
        seconds, built, skipped, _ = build_all(repo)
        print(f"warm-up r2o build --all: {seconds:.2f} s, {built} built or pushed, {skipped} up to date")
        worst = 0.0
        total_built = 0
        for run in range(1, args.runs + 1):
            seconds, built, skipped, _ = build_all(repo)
            worst = max(worst, seconds)
            total_built += built
            print(f"no-op run {run}: {seconds:.2f} s wall, {built} builds, {skipped} images up to date")
        verdict = "meets" if worst <= GOAL_S and total_built == 0 else "MISSES"
        print(
            f"goal <= {GOAL_S:.0f} s and zero builds: {verdict} (slowest {worst:.2f} s, {total_built} builds)"
        )
        return 0 if verdict == "meets" else 1


if __name__ == "__main__":
    sys.exit(main())
