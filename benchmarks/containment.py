"""What a flooding or overrunning component costs the host: r2o's peak memory and what is left on disk.

    .venv/bin/python benchmarks/containment.py [--flood-mib 1024] [--overrun-mib 2048] [--limit-mib 512]

Runs the hostile test component (tests/fixtures/hostile) in its image, in a scratch repository, as
`r2o run` does, and prints per scenario: the exit code, r2o's own peak RSS (the component runs in
its container, so it is not counted), the most the output's staging folder held while the run went
on (sampled every 5 ms), and what the host holds under the output folder afterwards.

Scenarios: a log flood (FLOOD MiB on stderr), a stdout flood (FLOOD MiB into the declared stdout
output), and two overruns of resources.storage_mib (LIMIT): many 8 MiB files (OVERRUN MiB in all),
and one big file (capped by RLIMIT_FSIZE in the kernel).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]
MIB = 1 << 20


def make_repo(root: Path, storage_mib: int) -> Path:
    (root / "components").mkdir(parents=True)
    ignore = shutil.ignore_patterns("rootfs.tar", "__pycache__")
    shutil.copytree(REPO / "base-images", root / "base-images", ignore=ignore)
    hostile = root / "components" / "hostile"
    shutil.copytree(REPO / "tests" / "fixtures" / "hostile", hostile, ignore=ignore)
    manifest = hostile / "component.yaml"
    manifest.write_text(re.sub(r"storage_mib: \d+", f"storage_mib: {storage_mib}", manifest.read_text()))
    return root


def tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            total += max(st.st_size, st.st_blocks * 512)
    return total


def run(repo: Path, out_parent: Path, *params: str) -> dict[str, float]:
    out_parent.mkdir(parents=True, exist_ok=True)
    argv = [*R2O, "run", "hostile", "--output", str(out_parent / "out")]
    for p in params:
        argv += ["-p", p]
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_bytes(out_parent))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    return {
        "exit": proc.returncode,
        "wall_s": wall,
        "rss_mib": usage.ru_maxrss / 1024,
        "peak_staging_mib": peak / MIB,
        "left_mib": tree_bytes(out_parent) / MIB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flood-mib", type=int, default=1024)
    parser.add_argument("--overrun-mib", type=int, default=2048)
    parser.add_argument("--limit-mib", type=int, default=512)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="r2o-containment-") as tmp:
        base = Path(tmp)
        roomy = make_repo(base / "roomy", storage_mib=args.flood_mib * 2)
        tight = make_repo(base / "tight", storage_mib=args.limit_mib)
        for repo in (roomy, tight):
            build = subprocess.run([*R2O, "build", "hostile"], cwd=repo, capture_output=True, text=True)
            if build.returncode != 0:
                print(build.stderr, file=sys.stderr)
                return 1
        scenarios = [
            (
                f"log flood, {args.flood_mib} MiB on stderr",
                roomy,
                ("mode=flood", f"megabytes={args.flood_mib}"),
            ),
            (
                f"stdout flood, {args.flood_mib} MiB output",
                roomy,
                ("mode=spew", f"megabytes={args.flood_mib}"),
            ),
            (
                f"overrun, {args.overrun_mib} MiB in 8 MiB files at storage_mib {args.limit_mib}",
                tight,
                ("mode=fill", f"megabytes={args.overrun_mib}"),
            ),
            (
                f"overrun, one {args.overrun_mib} MiB file at storage_mib {args.limit_mib}",
                tight,
                ("mode=bigfile", f"megabytes={args.overrun_mib}"),
            ),
        ]
        print(
            f"{'scenario':58} {'exit':>4} {'wall s':>7} {'r2o RSS MiB':>11} {'peak MiB':>9} {'left MiB':>9}"
        )
        for i, (label, repo, params) in enumerate(scenarios):
            r = run(repo, base / f"outputs{i}", *params)
            print(
                f"{label:58} {r['exit']:>4.0f} {r['wall_s']:>7.1f} {r['rss_mib']:>11.1f} "
                f"{r['peak_staging_mib']:>9.1f} {r['left_mib']:>9.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
