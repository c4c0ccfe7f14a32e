"""Runtime and peak memory of the four emissions components for one day on the reference domain.

    .venv/bin/python benchmarks/science_emissions.py     # native runs, one process each

Each component runs natively (the command of its component.yaml, with /data/input and /data/output
mapped to host paths) in its own process, so the peak RSS printed is that component's alone. The
meteorology is wrf's golden output when it exists, else a synthetic wrfout written here (same variables
as the AQcast contract). The module also serves the emissions components' tests (components/conftest.py):
the synthetic wrfout writer and the native runner live here.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

import netCDF4
import numpy as np

REPO = Path(__file__).resolve().parents[1]
LIBS = REPO / "libs"
for _p in (LIBS, Path(__file__).resolve().parent):  # the benchmarks folder too: loaded by file path in tests
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from aqdomain import domain, solar, surface  # noqa: E402
from native_runs import NativeRun, native_command, run_native  # noqa: E402,F401  (tests use native_command)

COMPONENTS = ("emissions-biogenic", "emissions-point", "emissions-area", "emissions-merge")
CASE = "one-day"
WRF_GOLDEN = REPO / "components" / "wrf" / "tests" / "golden" / CASE / "expected" / "wrfout_d01.nc"


# --- a synthetic wrfout (contract variables) --------------------------------------------------------------


def write_synthetic_wrfout(path: Path, day: dt.date, *, wind: float = 4.0) -> Path:
    """A deterministic wrfout-convention file for ``day``: 24 hourly steps on the reference grid.

    Clear-sky SWDOWN from the NOAA solar position, a diurnal T2 cycle with a -6.5 K/km lapse over the
    aqdomain terrain, a westerly 10 m wind of about ``wind`` m/s, and simple 3-D fields on 8 levels.
    """
    g = domain.grid()
    hgt = surface.terrain()
    times = domain.hours_of_day(day)
    nt, ny, nx, nz = len(times), domain.NROWS, domain.NCOLS, domain.NLAYS
    sw = np.zeros((nt, ny, nx))
    t2 = np.zeros((nt, ny, nx))
    for k, when in enumerate(times):
        cosz = solar.cos_zenith_utc(when, g.lat, g.lon)
        sw[k] = 0.75 * solar.SOLAR_CONSTANT_W_M2 * cosz**1.2
        local = (when.hour + domain.LOCAL_UTC_OFFSET_H) % 24
        t2[k] = 300.0 + 7.0 * np.cos(2 * np.pi * (local - 15) / 24) - 0.0065 * (hgt - 1600.0)
    diurnal = np.array([1.0 + 0.5 * np.sin(2 * np.pi * (((w.hour - 7) % 24) - 6) / 24) for w in times])
    u10 = wind * diurnal[:, None, None] * np.ones((ny, nx))
    v10 = 0.3 * wind * np.sin(g.x / 30000.0)[None] * np.ones((nt, 1, 1))
    pblh = np.clip(200.0 + 1.6 * sw, 100.0, None)
    psfc = 101325.0 * np.exp(-hgt / 8000.0) * np.ones((nt, 1, 1))
    zw = domain.layer_interfaces()
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        for name, size in (
            ("Time", None),
            ("DateStrLen", 19),
            ("west_east", nx),
            ("south_north", ny),
            ("bottom_top", nz),
            ("west_east_stag", nx + 1),
            ("south_north_stag", ny + 1),
            ("bottom_top_stag", nz + 1),
        ):
            ds.createDimension(name, size)
        ds.setncatts(
            {
                "TITLE": "synthetic wrfout for the emissions tests",
                "START_DATE": f"{day:%Y-%m-%d}_00:00:00",
                "MAP_PROJ": np.int32(1),
                "DX": np.float32(domain.DX),
                "DY": np.float32(domain.DY),
                "CEN_LAT": np.float32(domain.CEN_LAT),
                "CEN_LON": np.float32(domain.CEN_LON),
                "TRUELAT1": np.float32(domain.TRUELAT1),
                "TRUELAT2": np.float32(domain.TRUELAT2),
                "STAND_LON": np.float32(domain.STAND_LON),
                "MOAD_CEN_LAT": np.float32(domain.MOAD_CEN_LAT),
            }
        )
        tv = ds.createVariable("Times", "S1", ("Time", "DateStrLen"))
        tv[:] = np.array([list(w.strftime("%Y-%m-%d_%H:%M:%S")) for w in times], dtype="S1")
        ds.createVariable("XTIME", "f4", ("Time",))[:] = np.arange(nt) * 60.0
        two_d = ("Time", "south_north", "west_east")
        fields2 = {
            "XLAT": g.lat * np.ones((nt, 1, 1)),
            "XLONG": g.lon * np.ones((nt, 1, 1)),
            "HGT": hgt * np.ones((nt, 1, 1)),
            "T2": t2,
            "Q2": np.full((nt, ny, nx), 0.008),
            "PSFC": psfc,
            "U10": u10,
            "V10": v10,
            "PBLH": pblh,
            "SWDOWN": sw,
        }
        for name, data in fields2.items():
            ds.createVariable(name, "f4", two_d)[:] = data
        theta = (t2[:, None] + 0.004 * domain.layer_midpoints()[None, :, None, None]) - 300.0
        ds.createVariable("T", "f4", ("Time", "bottom_top", "south_north", "west_east"))[:] = theta
        ds.createVariable("U", "f4", ("Time", "bottom_top", "south_north", "west_east_stag"))[:] = wind
        ds.createVariable("V", "f4", ("Time", "bottom_top", "south_north_stag", "west_east"))[:] = 0.0
        ds.createVariable("W", "f4", ("Time", "bottom_top_stag", "south_north", "west_east"))[:] = 0.0
        pb = psfc[:, None] * np.exp(-domain.layer_midpoints()[None, :, None, None] / 8000.0)
        ds.createVariable("PB", "f4", ("Time", "bottom_top", "south_north", "west_east"))[:] = pb
        ds.createVariable("P", "f4", ("Time", "bottom_top", "south_north", "west_east"))[:] = 0.0
        phb = 9.81 * (hgt[None, None] + zw[None, :, None, None]) * np.ones((nt, 1, 1, 1))
        ds.createVariable("PHB", "f4", ("Time", "bottom_top_stag", "south_north", "west_east"))[:] = phb
        ds.createVariable("PH", "f4", ("Time", "bottom_top_stag", "south_north", "west_east"))[:] = 0.0
        znw = np.exp(-zw / 8000.0)
        ds.createVariable("ZNW", "f4", ("Time", "bottom_top_stag"))[:] = znw * np.ones((nt, 1))
        znu = 0.5 * (znw[1:] + znw[:-1])
        ds.createVariable("ZNU", "f4", ("Time", "bottom_top"))[:] = znu * np.ones((nt, 1))
    return path


# --- native runs of a component, driven by its component.yaml ---------------------------------------------


def benchmark(day: dt.date = dt.date(2024, 7, 15)) -> list[NativeRun]:
    runs: list[NativeRun] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wrfout = WRF_GOLDEN if WRF_GOLDEN.exists() else write_synthetic_wrfout(work / "wrfout_d01.nc", day)
        params = {"date": day.isoformat()}
        sectors: dict[str, Path] = {}
        for component, output in (
            ("emissions-biogenic", "biogenic"),
            ("emissions-point", "point"),
            ("emissions-area", "area"),
        ):
            run = run_native(component, params, {"wrfout": wrfout}, work / component)
            sectors[output] = next(p for p in run.outputs.values() if p.suffix == ".nc")
            runs.append(run)
        runs.append(run_native("emissions-merge", params, sectors, work / "emissions-merge"))
        print(f"meteorology: {'wrf golden output' if wrfout == WRF_GOLDEN else 'synthetic wrfout'} ({day})")
    return runs


def main(argv: list[str]) -> int:
    runs = benchmark()
    print(f"{'component':<22}{'runtime (s)':>12}{'peak RSS (MiB)':>16}")
    for run in runs:
        print(f"{run.component:<22}{run.seconds:>12.2f}{run.peak_rss_mib:>16.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
