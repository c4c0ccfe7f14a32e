"""Benchmark: `r2o compare` against Debian's `cdo diffn` on the same pairs of netCDF-4 files.

Generates (default 1 GiB each) float32 O3, NO2 and T on time=24, lev=32, y=320, x=364,
uncompressed, and three partners for the reference file:

* identical: a byte copy;
* sparse: 1,000 cells per variable perturbed by 1e-6 relative, and one T cell by +1 K;
* dense: every value perturbed by 1e-6 relative.

Each case runs `r2o compare` (as a subprocess, through the `r2o` entry point) and `cdo diffn`,
interleaved, ``--repeat`` times; the best wall time and the largest peak RSS of each are printed
with their ratio, then the verdicts at zero tolerance and at rtol=1e-5 (cdo: ``abslim`` must be
raised with ``rellim``, or ``rellim`` alone changes nothing). The r2o peak RSS is its main process
plus its largest worker (an upper bound: forked workers share pages with their parent).

    .venv/bin/python benchmarks/compare_netcdf.py [--size-mib 1024] [--repeat 3] [--workdir DIR] [--busy N]
        [--format netcdf4|classic]

Goals: sparse <= 0.5x cdo's wall time, dense <= 1.0x, peak RSS <= 256 MiB, same verdicts.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

SHAPE = (24, 32, 320, 364)  # time, lev, y, x: 3 float32 variables = 1 GiB
VARIABLES = {"O3": (0.03, 0.05), "NO2": (0.001, 0.04), "T": (240.0, 70.0)}  # offset, span
STEP_MIB = 3 * SHAPE[1] * SHAPE[2] * SHAPE[3] * 4 / 2**20

# The `r2o` console script's own entry point, so the figures include everything `r2o compare` pays
# for (the command group, lazy command loading); it records the peak RSS as it exits.
DRIVER = """
import os, resource, sys
from r2o.cli.main import main
try:
    main(["compare", *sys.argv[1:]])
finally:
    with open(os.environ["R2O_BENCH_RSS"], "w") as f:
        f.write(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} "
                f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
"""


def shape_for(size_mib: float) -> tuple[int, int, int, int]:
    _, nl, ny, nx = SHAPE
    if size_mib >= STEP_MIB:
        return (max(1, round(size_mib / STEP_MIB)), nl, ny, nx)
    return (1, max(1, round(nl * size_mib / STEP_MIB)), ny, nx)


def write_reference(
    path: Path, shape: tuple[int, ...], dense_from: Path | None = None, fmt: str = "NETCDF4"
) -> None:
    """Write the reference file, or (dense_from) a copy of it with every value scaled by 1+1e-6."""
    rng = np.random.default_rng(20240715)
    src = netCDF4.Dataset(dense_from) if dense_from else None
    classic = fmt.startswith("NETCDF3")
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        for name, n in zip(("time", "lev", "y", "x"), shape, strict=True):
            # classic files as models write them: time is the record dimension
            ds.createDimension(name, None if classic and name == "time" else n)
        time_var = ds.createVariable("time", "f8", ("time",))
        time_var.units = "hours since 2024-07-15 00:00:00"
        time_var[:] = np.arange(shape[0], dtype=np.float64)
        layout = {} if classic else {"contiguous": True}
        out = {n: ds.createVariable(n, "f4", ("time", "lev", "y", "x"), **layout) for n in VARIABLES}
        for t in range(shape[0]):
            for name, (offset, span) in VARIABLES.items():
                if src is not None:
                    block = src[name][t] * np.float32(1 + 1e-6)
                else:
                    block = rng.random(shape[1:], dtype=np.float32) * np.float32(span) + np.float32(offset)
                out[name][t] = block
    if src is not None:
        src.close()


def write_sparse(reference: Path, path: Path, shape: tuple[int, ...]) -> None:
    shutil.copyfile(reference, path)
    rng = np.random.default_rng(7)
    size = int(np.prod(shape))
    with netCDF4.Dataset(path, "a") as ds:
        for name in VARIABLES:
            var = ds[name]
            for flat in rng.choice(size, size=min(1000, size), replace=False):
                index = tuple(int(i) for i in np.unravel_index(int(flat), shape))
                var[index] = np.float32(var[index] * np.float32(1 + 1e-6))
        cell = tuple(n // 2 for n in shape)
        ds["T"][cell] = ds["T"][cell] + np.float32(1.0)


@dataclass
class Run:
    wall: float
    rss_kib: int
    code: int
    output: str
    cpu: float = 0.0  # user + system seconds, forked workers included


def run(cmd: list[str], env: dict[str, str] | None = None, rss_file: Path | None = None) -> Run:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime
    if rss_file is not None and rss_file.exists():
        own, workers = (int(x) for x in rss_file.read_text().split())
        rss = own + workers  # main process + largest forked worker
    return Run(wall, rss, proc.returncode, output, cpu)


def r2o_cmd(a: Path, b: Path, *options: str) -> list[str]:
    return [sys.executable, "-c", DRIVER, str(a), str(b), *options]


def cdo_cmd(a: Path, b: Path, params: str = "") -> list[str]:
    return ["cdo", "-s", f"diffn{params}", str(a), str(b)]


def r2o_verdict(r: Run) -> str:
    return {0: "equal", 1: "differ"}.get(r.code, f"error {r.code}")


def cdo_verdict(r: Run) -> str:
    if r.code not in (0, 1):
        return f"error {r.code}"
    counts = [int(n) for n in re.findall(r"(\d+) of \d+ records differ\b(?! more)", r.output)]
    return "differ" if any(counts) else "equal"


def startup_costs(python: str, env: dict[str, str]) -> dict[str, float]:
    snippets = {
        "python -c pass": "pass",
        "import numpy": "import numpy",
        "import numpy, netCDF4": "import numpy, netCDF4",
        "import r2o.cli.main + compare": "import r2o.cli.main, r2o.cli.compare",
    }
    costs = {}
    for label, code in snippets.items():
        best = min(run([python, "-c", code], env).wall for _ in range(3))
        costs[label] = best
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=float, default=1024.0, help="size of each file (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and case; best wall time kept")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where to write the files (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument(
        "--format",
        choices=["netcdf4", "classic"],
        default="netcdf4",
        help="netCDF-4 (default; the goals) or classic CDF-2 with time as the record dimension",
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        help="keep this many cores busy with spinning processes while timing (a loaded machine)",
    )
    args = parser.parse_args()
    if shutil.which("cdo") is None:
        sys.exit("cdo is not installed (Debian package cdo)")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="r2o-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    shape = shape_for(args.size_mib)
    ref, same, sparse, dense = (workdir / f"{n}.nc" for n in ("ref", "identical", "sparse", "dense"))
    t0 = time.perf_counter()
    fmt = "NETCDF3_64BIT_OFFSET" if args.format == "classic" else "NETCDF4"
    write_reference(ref, shape, fmt=fmt)
    shutil.copyfile(ref, same)
    write_sparse(ref, sparse, shape)
    write_reference(dense, shape, dense_from=ref, fmt=fmt)
    generated = time.perf_counter() - t0
    # the kernel writes the new files back in the background: let it finish before timing, or its
    # flusher threads take CPU from whichever tool happens to run at the time
    os.sync()
    print(
        f"files ({fmt}): {shape} x 3 float32 variables, {ref.stat().st_size / 2**20:.0f} MiB each,"
        f" in {workdir}"
    )
    print(
        f"generated in {generated:.1f} s; load average {os.getloadavg()[0]:.2f};"
        f" {len(os.sched_getaffinity(0))} CPUs available"
    )

    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(0, args.busy))
    ]
    if spinners:
        print(f"{len(spinners)} spinning process(es) keep cores busy while timing")
    try:
        timings(args, ref, same, sparse, dense, workdir)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    if not args.keep and args.workdir is None:
        shutil.rmtree(workdir)


def timings(
    args: argparse.Namespace, ref: Path, same: Path, sparse: Path, dense: Path, workdir: Path
) -> None:
    env = dict(os.environ)
    # as installed: Python caches compiled modules (a developer's PYTHONDONTWRITEBYTECODE=1 would make
    # every run recompile r2o, ~30 ms); the first, untimed run below writes the cache
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        print("PYTHONDONTWRITEBYTECODE dropped for the timed runs (an installed r2o has its bytecode cached)")
    rss_file = workdir / "r2o-rss.txt"
    env["R2O_BENCH_RSS"] = str(rss_file)
    run(r2o_cmd(ref, same), env, rss_file)  # warm-up: bytecode cache and page cache
    print("\nstartup (best of 3, wall):")
    for label, cost in startup_costs(sys.executable, env).items():
        print(f"  {label:<24} {cost * 1000:7.0f} ms")

    print(f"\n{'case':<10} {'tool':<12} {'wall s':>8} {'cpu s':>7} {'peak RSS MiB':>13} {'verdict':>8}")
    results: dict[str, tuple[Run, Run]] = {}
    for case, other in (("identical", same), ("sparse", sparse), ("dense", dense)):
        best: dict[str, Run] = {}
        for _ in range(args.repeat):
            for tool in ("r2o", "cdo"):
                r = run(r2o_cmd(ref, other), env, rss_file) if tool == "r2o" else run(cdo_cmd(ref, other))
                prev = best.get(tool)
                if prev is None or r.wall < prev.wall:
                    best[tool] = Run(
                        r.wall, max(r.rss_kib, prev.rss_kib if prev else 0), r.code, r.output, r.cpu
                    )
                else:
                    prev.rss_kib = max(prev.rss_kib, r.rss_kib)
        r2o, cdo = best["r2o"], best["cdo"]
        results[case] = (r2o, cdo)
        for tool, r, verdict in (
            ("r2o compare", r2o, r2o_verdict(r2o)),
            ("cdo diffn", cdo, cdo_verdict(cdo)),
        ):
            print(f"{case:<10} {tool:<12} {r.wall:8.2f} {r.cpu:7.2f} {r.rss_kib / 1024:13.0f} {verdict:>8}")
        print(f"{case:<10} {'ratio':<12} {r2o.wall / cdo.wall:7.2f}x {r2o.cpu / cdo.cpu:6.2f}x")

    print("\nverdicts at rtol=1e-5 (cdo: diffn,abslim=1e30,rellim=1e-5):")
    tol_agree = True
    for case, other in (("sparse", sparse), ("dense", dense)):
        r = run(r2o_cmd(ref, other, "--rtol", "1e-5"), env, rss_file)
        c = run(cdo_cmd(ref, other, ",abslim=1e30,rellim=1e-5"))
        tol_agree &= r2o_verdict(r) == cdo_verdict(c)
        print(f"  {case:<8} r2o {r2o_verdict(r):<7} cdo {cdo_verdict(c)}")

    print("\ngoals:")
    sparse_ratio = results["sparse"][0].wall / results["sparse"][1].wall
    dense_ratio = results["dense"][0].wall / results["dense"][1].wall
    peak = max(r[0].rss_kib for r in results.values()) / 1024
    agree = all(r2o_verdict(r) == cdo_verdict(c) for r, c in results.values())
    for text, ok in (
        (f"sparse wall <= 0.5x cdo: {sparse_ratio:.2f}x", sparse_ratio <= 0.5),
        (f"dense wall <= 1.0x cdo: {dense_ratio:.2f}x", dense_ratio <= 1.0),
        (f"r2o peak RSS <= 256 MiB: {peak:.0f} MiB", peak <= 256),
        (f"same verdict as cdo at zero tolerance: {agree}", agree),
        (f"same verdict as cdo at rtol=1e-5: {tol_agree}", tol_agree),
    ):
        print(f"  [{'met' if ok else 'MISSED'}] {text}")


if __name__ == "__main__":
    main()
