"""Benchmark: runtime and peak memory of the wrf component for one day on the reference domain (native run).

    .venv/bin/python benchmarks/science_wrf.py [--repeat 3]

Runs components/wrf/downscale.py as a child process on the golden case's coarse input, as the container
would, and prints wall time and the child's peak RSS (ru_maxrss), plus the in-process split between the
science (downscale_day) and writing the file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "components" / "wrf"
COARSE = COMPONENT / "tests" / "golden" / "one-day" / "inputs" / "coarse.nc"
DATE = "2024-07-15"


def run_child(out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child run."""
    cmd = [
        sys.executable,
        str(COMPONENT / "downscale.py"),
        "--date",
        DATE,
        "--coarse",
        str(COARSE),
        "--out",
        str(out),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"wrf run failed ({proc.returncode}):\n{proc.stderr}")
    # ru_maxrss of RUSAGE_CHILDREN is the largest of all children so far (KiB on Linux)
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def split_in_process(out: Path) -> tuple[float, float]:
    sys.path[:0] = [str(COMPONENT), str(ROOT / "libs")]
    import downscale
    import wrfout

    t0 = time.perf_counter()
    coarse = downscale.read_coarse(COARSE)
    result = downscale.downscale_day(coarse, dt.date.fromisoformat(DATE), log=lambda _line: None)
    t1 = time.perf_counter()
    wrfout.write_wrfout(out, dt.datetime.fromisoformat(DATE), result.times, result.data)
    return t1 - t0, time.perf_counter() - t1


def grid_shape(path: Path) -> str:
    """The written file's grid, as WRF names its dimensions (never a figure typed into this script)."""
    import netCDF4

    with netCDF4.Dataset(path) as ds:
        size = {name: len(dim) for name, dim in ds.dimensions.items()}
    return (
        f"{size['west_east']} x {size['south_north']} x {size['bottom_top']} levels, "
        f"{size['Time']} hourly steps"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "wrfout_d01.nc"
        walls = []
        rss = 0.0
        for _ in range(args.repeat):
            wall, rss = run_child(out)
            walls.append(wall)
        science, write = split_in_process(out)
        size_mb = out.stat().st_size / 1e6
        shape = grid_shape(out)
    print(f"wrf one day ({shape}), {args.repeat} native runs")
    print(f"  wall time   : min {min(walls):.2f} s, median {statistics.median(walls):.2f} s (incl. imports)")
    print(f"  in process  : downscale_day {science:.2f} s, write wrfout {write:.2f} s")
    print(f"  peak RSS    : {rss:.0f} MiB")
    print(f"  output size : {size_mb:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
