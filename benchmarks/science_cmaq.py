"""Runtime and peak memory of cmaq for one day on the reference domain; golden-case recorder.

    .venv/bin/python benchmarks/science_cmaq.py            # benchmark: cmaq one day (+ aq-compliance)
    .venv/bin/python benchmarks/science_cmaq.py record     # (re)write the cmaq and aq-compliance golden cases

The benchmark runs the components natively (the command of their component.yaml with /data paths mapped
to host paths), each in its own process pinned to one CPU, timed from outside, its peak RSS measured by
/usr/bin/time. Inputs: the wrf and emissions-merge golden outputs when they exist, else the synthetic
contract inputs of components/cmaq/tests/cmaq_synthetic.py. Goal: cmaq <= 60 s on one core, <= 1 GiB.

``record`` writes
* components/cmaq/tests/golden/one-day/expected/{CONC.nc, CGRID.nc}: a native run on the wrf and
  emissions-merge golden outputs (the case chains from them with ``from:``);
* components/aq-compliance/tests/golden/two-days/inputs/conc/: surface O3 of two consecutive cmaq days
  (2024-07-15 = the cmaq golden day; 2024-07-16 = wrf, emissions and cmaq run natively for that day,
  cmaq restarted from the golden CGRID), reduced to O3 / layer 1 to keep the case small;
  and its expected/ from a native run (mda8.nc, report.txt). The PNG in expected/ must come from the
  component's image (matplotlib differs between host and image): pass ``--png-from DIR`` with the
  mda8_max.png of a container run on the same inputs.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import netCDF4
import numpy as np

REPO = Path(__file__).resolve().parents[1]
LIBS = REPO / "libs"
for _p in (LIBS, REPO / "components" / "cmaq" / "tests", Path(__file__).resolve().parent):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import native_runs  # noqa: E402
from aqdomain import ioapi  # noqa: E402
from native_runs import NativeRun  # noqa: E402

DAY1 = dt.date(2024, 7, 15)
DAY2 = dt.date(2024, 7, 16)
GOLDEN = "tests/golden"
WRF_GOLDEN = REPO / "components" / "wrf" / GOLDEN / "one-day" / "expected" / "wrfout_d01.nc"
EMIS_GOLDEN = REPO / "components" / "emissions-merge" / GOLDEN / "one-day" / "expected" / "emis_merged.nc"
CMAQ_CASE = REPO / "components" / "cmaq" / GOLDEN / "one-day"
COMPLIANCE_CASE = REPO / "components" / "aq-compliance" / GOLDEN / "two-days"


def run_native(
    component: str, parameters: Mapping[str, str], inputs: Mapping[str, Path], outdir: Path
) -> NativeRun:
    """Every run of this benchmark is pinned to one CPU: its goal is per core."""
    return native_runs.run_native(component, parameters, inputs, outdir, one_core=True)


def day_inputs(day: dt.date, work: Path) -> tuple[Path, Path]:
    """wrfout and merged emissions of ``day``: the golden outputs for 2024-07-15, else run natively."""
    if day == DAY1 and WRF_GOLDEN.exists() and EMIS_GOLDEN.exists():
        return WRF_GOLDEN, EMIS_GOLDEN
    sys.path.insert(0, str(REPO / "components" / "wrf"))
    import synoptic  # the wrf component's example coarse-field writer

    work.mkdir(parents=True, exist_ok=True)
    d = str(day)
    coarse = work / "coarse.nc"
    synoptic.main(["--date", d, "--out", str(coarse)])
    run_native("wrf", {"date": d}, {"coarse": coarse}, work / "wrf")
    wrfout = work / "wrf" / "wrfout_d01.nc"
    for sector in ("biogenic", "point", "area"):
        run_native(f"emissions-{sector}", {"date": d}, {"wrfout": wrfout}, work / sector)
    merge_in = {s: work / s / f"emis_{s}.nc" for s in ("biogenic", "point", "area")}
    run_native("emissions-merge", {"date": d}, merge_in, work / "merge")
    return wrfout, work / "merge" / "emis_merged.nc"


def synthetic_inputs(day: dt.date, work: Path) -> tuple[Path, Path]:
    import cmaq_synthetic

    work.mkdir(parents=True, exist_ok=True)
    cmaq_synthetic.write_wrfout(work / "wrfout_d01.nc", day)
    cmaq_synthetic.write_emissions(work / "emis_merged.nc", day)
    return work / "wrfout_d01.nc", work / "emis_merged.nc"


def surface_ozone_file(conc: Path, out: Path) -> None:
    """A reduced CONC: O3 of layer 1 only, same times and grid (keeps the compliance case small)."""
    with netCDF4.Dataset(conc) as ds:
        o3 = np.asarray(ds["O3"][:, :1], dtype=np.float32)
        start = ioapi.read_times(ds)[0]
    ioapi.write_gridded(
        out,
        {ioapi.Variable("O3", "ppmV", "ozone"): o3},
        start=start,
        tstep=10000,
        upnam="cmaq",
        exec_id="cmaq-aqcast",
        filedesc="cmaq CONC reduced to surface O3 (aq-compliance golden input)",
    )


def record(png_from: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # cmaq one-day golden
        expected = CMAQ_CASE / "expected"
        run_native("cmaq", {"date": str(DAY1)}, {"wrfout": WRF_GOLDEN, "emissions": EMIS_GOLDEN}, expected)
        print(f"wrote {expected}/CONC.nc, CGRID.nc")
        # aq-compliance two-days golden: day 2 chained natively from day 1's restart
        wrf2, emis2 = day_inputs(DAY2, work / "day2")
        run_native(
            "cmaq",
            {"date": str(DAY2)},
            {"wrfout": wrf2, "emissions": emis2, "restart": expected / "CGRID.nc"},
            work / "cmaq2",
        )
        conc_dir = COMPLIANCE_CASE / "inputs" / "conc"
        if conc_dir.exists():
            shutil.rmtree(conc_dir)
        conc_dir.mkdir(parents=True)
        surface_ozone_file(expected / "CONC.nc", conc_dir / "CONC_20240715.nc")
        surface_ozone_file(work / "cmaq2" / "CONC.nc", conc_dir / "CONC_20240716.nc")
        out = COMPLIANCE_CASE / "expected"
        run_native("aq-compliance", {}, {"conc": conc_dir}, out)
        if png_from is not None:
            shutil.copy(png_from / "mda8_max.png", out / "mda8_max.png")
        print(f"wrote {conc_dir} and {out}")


def benchmark() -> list[NativeRun]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if WRF_GOLDEN.exists() and EMIS_GOLDEN.exists():
            wrfout, emis = WRF_GOLDEN, EMIS_GOLDEN
            source = "wrf + emissions-merge golden outputs"
        else:
            wrfout, emis = synthetic_inputs(DAY1, work / "inputs")
            source = "synthetic contract inputs (cmaq_synthetic.py)"
        runs = [run_native("cmaq", {"date": str(DAY1)}, {"wrfout": wrfout, "emissions": emis}, work / "cmaq")]
        conc = work / "conc"
        conc.mkdir()
        shutil.copy(work / "cmaq" / "CONC.nc", conc / "CONC_20240715.nc")
        runs.append(run_native("aq-compliance", {}, {"conc": conc}, work / "compliance"))
    print(f"one day (2024-07-15) on the 48 x 48 x 8 reference domain, inputs: {source}; one CPU per run")
    for r in runs:
        print(f"{r.component:14s} wall {r.seconds:6.1f} s   peak RSS {r.peak_rss_mib:7.1f} MiB")
    cmaq = runs[0]
    ok = cmaq.seconds <= 60.0 and cmaq.peak_rss_mib <= 1024.0
    print(f"goal cmaq <= 60 s and <= 1024 MiB: {'met' if ok else 'NOT met'}")
    return runs


def main(argv: list[str]) -> int:
    if argv[:1] == ["record"]:
        png = Path(argv[argv.index("--png-from") + 1]) if "--png-from" in argv else None
        record(png)
        return 0
    benchmark()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
