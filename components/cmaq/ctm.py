"""cmaq: a compact chemical transport model for one UTC day on the reference domain.

Reads the wrfout meteorology, the merged emissions (I/O API, moles/s by layer) and the restart file of
the previous day (CGRID; clean background when absent); writes hourly concentrations in the I/O API CONC
convention (O3, NO, NO2, ROC, RP, SGN, SNGN in ppmV; 24 steps 00:00..23:00 UTC, instantaneous) and the
state at 24:00 UTC as the next day's restart (CGRID.nc).

Each time step (stable from the CFL condition, at most DT_MAX_S, a whole divisor of the hour) applies in
turn: 3-D advection (ctm_transport.advect, sweep order alternating between steps), vertical diffusion with
emissions and dry deposition (ctm_transport.diffuse), GRS chemistry (grs.step) with J(NO2) from the solar
zenith angle of every cell at the middle of the step.

Usage: python3 ctm.py --date 2024-07-15 --wrfout wrfout_d01.nc --emissions emis_merged.nc
       [--restart CGRID.nc] --outdir OUT
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grs
import netCDF4
import numpy as np
from aqdomain import domain, ioapi, solar
from aqdomain import surface as aqsurface
from ctm_met import MetDay, MetInputError, hour_met, read_wrfout
from ctm_transport import advect, diffuse, max_stable_step

SPECIES = grs.SPECIES
EMITTED = ("NO", "NO2", "ROC")
DT_MAX_S = 600.0

# Clean background (ppm; ROC in ppmC): initial state without a restart file, inflow at the lateral
# boundaries and above the model top. Values typical of the remote continental western US in summer.
BACKGROUND_PPM = {
    "O3": 0.040,
    "NO": 0.0001,
    "NO2": 0.0005,
    "ROC": 0.020,
    "RP": 0.0,
    "SGN": 0.0005,
    "SNGN": 0.0,
}

# Dry deposition velocities (m/s): (full daylight, night); in between weighted by min(SWDOWN / 500, 1)
# for the stomatal opening. Typical values for semi-arid grass/crop land (Wesely 1989 magnitudes).
DEPOSITION_M_S = {
    "O3": (0.004, 0.001),
    "NO": (0.0005, 0.0001),
    "NO2": (0.003, 0.0008),
    "ROC": (0.0, 0.0),
    "RP": (0.0, 0.0),
    "SGN": (0.020, 0.008),
    "SNGN": (0.002, 0.001),
}
SWDOWN_FULL_STOMATA = 500.0  # W/m2

_LAYERS_DESC = (
    "Layers: WRF eta levels collapsed onto 8 layers as MCIP does\n"
    "(VGTYP 7 VGWRFEM, VGTOP = WRF P_TOP, VGLVLS = eta of the layer interfaces)"
)
CONC_FILEDESC = "\n".join(
    [
        "cmaq (AQcast reference): hourly instantaneous concentrations, GRS mechanism",
        "O3, NO, NO2, ROC (ppmC), RP, SGN, SNGN in ppmV; step 0 is the initial state",
        _LAYERS_DESC,
    ]
)
CGRID_FILEDESC = "\n".join(
    [
        "cmaq (AQcast reference): restart state (CGRID) at the end of the run",
        "O3, NO, NO2, ROC (ppmC), RP, SGN, SNGN in ppmV: the next day's --restart",
        _LAYERS_DESC,
    ]
)


class CmaqInputError(Exception):
    """A bad input file or argument; main() prints it and exits with status 3."""


@dataclass
class RunStats:
    steps: int = 0
    dt_min: float = math.inf
    dt_max: float = 0.0


def background(nz: int, o3_ppm: float | None = None) -> np.ndarray:
    """Background mixing ratios (ns, nz)."""
    values = dict(BACKGROUND_PPM)
    if o3_ppm is not None:
        values["O3"] = o3_ppm
    return np.repeat(np.array([values[s] for s in SPECIES])[:, None], nz, axis=1)


def deposition_velocity(swdown: np.ndarray) -> np.ndarray:
    """vd (m/s) per species and cell, (ns, ny, nx)."""
    light = np.clip(swdown / SWDOWN_FULL_STOMATA, 0.0, 1.0)
    day = np.array([DEPOSITION_M_S[s][0] for s in SPECIES])[:, None, None]
    night = np.array([DEPOSITION_M_S[s][1] for s in SPECIES])[:, None, None]
    return night + (day - night) * light[None]


def run_day(
    met: MetDay,
    start: dt.datetime,
    initial: np.ndarray,
    boundary: np.ndarray,
    emissions: np.ndarray | None,
    *,
    chemistry: bool = True,
    deposition: bool = True,
    periodic: bool = False,
    hours: int = 24,
    progress: Callable[[int, RunStats], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, RunStats]:
    """Integrate ``hours`` hours from ``initial`` (ns, nz, ny, nx), ppm.

    ``emissions`` (hours, ns, nz, ny, nx) mol/s or None. Returns the hourly states at hours 0..hours-1
    (float32, (hours, ns, nz, ny, nx); step 0 is the initial state), the final state (float64) and stats.
    """
    conc = np.array(initial, dtype=np.float64)
    ns, nz, ny, nx = conc.shape
    area = met.dx * met.dy
    hourly = np.empty((hours, ns, nz, ny, nx), dtype=np.float32)
    stats = RunStats()
    for h in range(hours):
        hourly[h] = conc
        hm = hour_met(met, h, periodic=periodic)
        n = max(1, math.ceil(3600.0 / min(max_stable_step(hm.m, hm.fx, hm.fy, hm.fz), DT_MAX_S) - 1.0e-9))
        dt_s = 3600.0 / n
        dz_centres = np.diff(0.5 * (hm.z[1:] + hm.z[:-1]), axis=0)
        rho_int = 0.5 * (hm.rho[1:] + hm.rho[:-1])
        exch = dt_s * area * rho_int * hm.kz / dz_centres
        if deposition:
            dep = dt_s * area * hm.rho[0][None] * deposition_velocity(hm.swdown)
        else:
            dep = np.zeros((ns, ny, nx))
        source = None if emissions is None else dt_s * 1.0e6 * emissions[h]
        for i in range(n):
            conc = advect(
                conc,
                hm.m,
                hm.fx,
                hm.fy,
                hm.fz,
                dt_s,
                boundary,
                periodic=periodic,
                reverse=stats.steps % 2 == 1,
            )
            diffuse(conc, hm.m, exch, dep, source)
            if chemistry:
                mid = start + dt.timedelta(seconds=h * 3600.0 + (i + 0.5) * dt_s)
                j = grs.j_no2(solar.cos_zenith_utc(mid, met.lat, met.lon))
                grs.step(conc, j[None], hm.temp, dt_s)
            np.maximum(conc, 0.0, out=conc)
            stats.steps += 1
        stats.dt_min = min(stats.dt_min, dt_s)
        stats.dt_max = max(stats.dt_max, dt_s)
        if progress is not None:
            progress(h, stats)
    return hourly, conc, stats


# ---------------------------------------------------------------------------------------------- I/O


def _open(path: Path, what: str) -> netCDF4.Dataset:
    if not path.is_file():
        raise CmaqInputError(f"{path}: the {what} file does not exist")
    try:
        return netCDF4.Dataset(path)
    except OSError as exc:
        raise CmaqInputError(f"{path}: the {what} file is not readable netCDF ({exc})") from exc


def _check_grid(ds: netCDF4.Dataset, path: Path, nz: int | None) -> None:
    for dim, want in (("ROW", domain.NROWS), ("COL", domain.NCOLS)):
        if dim not in ds.dimensions or len(ds.dimensions[dim]) != want:
            raise CmaqInputError(f"{path}: dimension {dim} must be {want} (the reference grid)")
    if nz is not None and ("LAY" not in ds.dimensions or len(ds.dimensions["LAY"]) != nz):
        raise CmaqInputError(f"{path}: dimension LAY must be {nz}")


def read_emissions(path: Path, day: dt.date) -> np.ndarray:
    """Merged emissions as (24, ns, NLAYS, NROWS, NCOLS) mol/s (zero for species that are not emitted)."""
    start = dt.datetime(day.year, day.month, day.day)
    with _open(path, "emissions") as ds:
        _check_grid(ds, path, None)
        times = ioapi.read_times(ds)
        want = [start + dt.timedelta(hours=h) for h in range(24)]
        if times[:24] != want:
            first = times[0].strftime("%Y-%m-%d %H:%M") if times else "none"
            raise CmaqInputError(
                f"{path}: TFLAG must hold the 24 hours of {day} from 00:00 UTC (first step {first}, "
                f"{len(times)} steps); run the emissions for --date {day}"
            )
        nlay = len(ds.dimensions["LAY"])
        if nlay > domain.NLAYS:
            raise CmaqInputError(f"{path}: LAY = {nlay} exceeds the model's {domain.NLAYS} layers")
        out = np.zeros((24, len(SPECIES), domain.NLAYS, domain.NROWS, domain.NCOLS))
        for name in EMITTED:
            if name not in ds.variables:
                raise CmaqInputError(f"{path}: variable {name} (moles/s) is missing")
            data = np.asarray(ds.variables[name][:24], dtype=np.float64)
            if not np.all(np.isfinite(data)) or np.any(data < 0):
                raise CmaqInputError(f"{path}: variable {name} has negative or non-finite rates")
            out[:, SPECIES.index(name), :nlay] = data
    return out


def read_restart(path: Path, day: dt.date) -> np.ndarray:
    """The CGRID state at 00:00 UTC of ``day``, (ns, NLAYS, NROWS, NCOLS) ppm."""
    start = dt.datetime(day.year, day.month, day.day)
    with _open(path, "restart (CGRID)") as ds:
        _check_grid(ds, path, domain.NLAYS)
        times = ioapi.read_times(ds)
        if not times or times[-1] != start:
            found = times[-1].strftime("%Y-%m-%d %H:%M") if times else "none"
            raise CmaqInputError(
                f"{path}: the restart is valid at {found} UTC but this run starts at {start:%Y-%m-%d %H:%M}; "
                "pass the CGRID.nc written by the previous day's run, or no restart for a clean start"
            )
        out = np.empty((len(SPECIES), domain.NLAYS, domain.NROWS, domain.NCOLS))
        for i, name in enumerate(SPECIES):
            if name not in ds.variables:
                raise CmaqInputError(f"{path}: variable {name} is missing from the restart")
            out[i] = np.asarray(ds.variables[name][-1], dtype=np.float64)
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        raise CmaqInputError(f"{path}: the restart holds negative or non-finite concentrations")
    return out


def _variables() -> list[ioapi.Variable]:
    return [ioapi.Variable(s, grs.UNITS[s], grs.DESCRIPTIONS[s]) for s in SPECIES]


def write_outputs(
    outdir: Path, start: dt.datetime, hourly: np.ndarray, final: np.ndarray, history: str = ""
) -> None:
    """CONC.nc (hourly from ``start``) and CGRID.nc (one step at the run's end); each appears atomically."""
    common = {
        "upnam": "cmaq",
        "exec_id": "cmaq-aqcast",
        "vglvls": list(domain.ETA_INTERFACES),
        "history": history,
    }
    variables = _variables()
    with ioapi.create_gridded(
        outdir / "CONC.nc",
        variables,
        start=start,
        nsteps=hourly.shape[0],
        nlays=domain.NLAYS,
        tstep=10000,
        filedesc=CONC_FILEDESC,
        **common,  # type: ignore[arg-type]
    ) as f:
        for i, v in enumerate(variables):
            f.write(v.name, hourly[:, i])
    with ioapi.create_gridded(
        outdir / "CGRID.nc",
        variables,
        start=start + dt.timedelta(hours=hourly.shape[0]),
        nsteps=1,
        nlays=domain.NLAYS,
        tstep=10000,
        filedesc=CGRID_FILEDESC,
        **common,  # type: ignore[arg-type]
    ) as f:
        for i, v in enumerate(variables):
            f.write(v.name, final[i][None])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cmaq", description=__doc__.split("\n\n")[0])
    parser.add_argument("--date", required=True, help="UTC day to simulate, YYYY-MM-DD")
    parser.add_argument("--wrfout", required=True, type=Path)
    parser.add_argument("--emissions", required=True, type=Path)
    parser.add_argument("--restart", type=Path, default=None, help="CGRID.nc of the previous day (optional)")
    parser.add_argument("--outdir", required=True, type=Path)
    parser.add_argument("--o3-background", type=float, default=BACKGROUND_PPM["O3"], help="ppm")
    parser.add_argument(
        "--hours", type=int, default=24, help="hours to integrate from 00 UTC (24: the whole day)"
    )
    args = parser.parse_args(argv)
    try:
        try:
            day = dt.date.fromisoformat(args.date)
        except ValueError as exc:
            raise CmaqInputError(f"--date {args.date!r} is not a date YYYY-MM-DD") from exc
        if not 0.0 <= args.o3_background <= 0.2:
            raise CmaqInputError(f"--o3-background {args.o3_background} must be within 0..0.2 ppm")
        if not 1 <= args.hours <= 24:
            raise CmaqInputError(f"--hours {args.hours} must be within 1..24")
        if not args.outdir.is_dir():
            raise CmaqInputError(f"{args.outdir}: the output directory does not exist")
        start = dt.datetime(day.year, day.month, day.day)
        t0 = time.perf_counter()
        met = read_wrfout(args.wrfout, day, domain.eta_interfaces(), aqsurface.roughness_length())
        if met.temp.shape[2:] != (domain.NROWS, domain.NCOLS):
            raise CmaqInputError(
                f"{args.wrfout}: grid {met.temp.shape[2:]} is not the reference 48 x 48 grid"
            )
        emissions = read_emissions(args.emissions, day)
        bnd = background(domain.NLAYS, args.o3_background)
        if args.restart is not None and args.restart.exists():
            initial = read_restart(args.restart, day)
            origin = f"restart {args.restart.name}"
        else:
            initial = np.broadcast_to(
                bnd[:, :, None, None], (len(SPECIES), domain.NLAYS, domain.NROWS, domain.NCOLS)
            )
            origin = "clean background"
        print(f"cmaq: {day} from {origin}", flush=True)

        def report(h: int, st: RunStats) -> None:
            if h % 6 == 5:
                print(f"cmaq: hour {h + 1:2d}/{args.hours} done, {st.steps} steps", flush=True)

        hourly, final, stats = run_day(met, start, initial, bnd, emissions, hours=args.hours, progress=report)
        history = (
            f"cmaq 1.0.0 --date {day} --hours {args.hours} --o3-background {args.o3_background}\n"
            f"meteorology {args.wrfout.name}, emissions {args.emissions.name}, initial state: {origin}"
        )
        write_outputs(args.outdir, start, hourly, final, history)
        o3 = hourly[:, SPECIES.index("O3"), 0]
        print(
            f"cmaq: wrote CONC.nc and CGRID.nc; {stats.steps} steps "
            f"(dt {stats.dt_min:.0f}-{stats.dt_max:.0f} s); "
            f"surface O3 max {1000 * float(o3.max()):.1f} ppb; {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    except (CmaqInputError, MetInputError) as exc:
        print(f"cmaq: error: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
