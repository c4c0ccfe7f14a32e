"""emissions-point: stack emissions with Briggs (ISC3) plume rise, allocated to the 8 model layers.

For every stack and hour: Pasquill-Gifford class from the 10 m wind and SWDOWN at the stack's cell,
stack-top wind by the ISC3 rural power law, Briggs final rise (ISC3 formulas, stack-tip downwash),
a plume from h + dh/2 to h + 3 dh/2 spread over the layers by overlap, and the inventory's annual NOX
and VOC turned into hourly moles/s of NO, NO2 and ROC (moles C). Writes an I/O API GRDDED3 file,
LAY = 8, 24 hourly steps. See README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

# aqdomain sits in /app/libs in the image (also on PYTHONPATH) and in <repo>/libs for native runs
HERE = Path(__file__).resolve().parent
for _libs in (HERE / "libs", HERE.parent.parent / "libs"):  # parents[1] fails for /app
    if (_libs / "aqdomain").is_dir() and str(_libs) not in sys.path:
        sys.path.insert(0, str(_libs))
import plumerise  # noqa: E402
from aqdomain import domain, inventory, ioapi, wrfday  # noqa: E402
from aqdomain.cli import EXIT_INPUT, InputFileError, day_argument, run_step  # noqa: E402

VERSION = "1.0.0"
SPECIES = ("NO", "NO2", "ROC")
VARIABLES = (
    ioapi.Variable("NO", "moles/s", "nitric oxide from point sources (Briggs plume rise, layered)"),
    ioapi.Variable("NO2", "moles/s", "nitrogen dioxide from point sources (Briggs plume rise, layered)"),
    ioapi.Variable("ROC", "moles/s", "reactive organic compounds (moles of carbon) from point sources"),
)


@dataclass(frozen=True)
class SurfaceMet:
    times: list[dt.datetime]
    t2: NDArray[np.float64]  # (24, ROW, COL) K
    wind10: NDArray[np.float64]  # (24, ROW, COL) m s-1, speed of (U10, V10)
    swdown: NDArray[np.float64]  # (24, ROW, COL) W m-2


@dataclass(frozen=True)
class PlumeHour:
    """One stack in one hour: the diagnostics behind its layer fractions."""

    stability: int
    wind: float  # stack-top wind, m s-1
    rise: plumerise.PlumeRise
    bottom: float
    top: float
    fractions: NDArray[np.float64]


def read_met(path: Path, day: dt.date) -> SurfaceMet:
    """T2, 10 m wind speed and SWDOWN for the 24 hours of ``day`` from a wrfout file."""
    times, fields = wrfday.read_day(path, day, ("T2", "U10", "V10", "SWDOWN"))
    # U10/V10 are grid-relative; the speed does not depend on the rotation to earth axes
    return SurfaceMet(
        times=times, t2=fields["T2"], wind10=np.hypot(fields["U10"], fields["V10"]), swdown=fields["SWDOWN"]
    )


def plume_hour(src: inventory.PointSource, t2: float, wind10: float, swdown: float) -> PlumeHour:
    """Stability, plume rise and layer fractions of one stack for one hour of surface met."""
    stack = plumerise.Stack(
        src.stack_height_m, src.stack_diameter_m, src.exit_velocity_m_s, src.exit_temperature_k
    )
    cls = plumerise.pasquill_class(wind10, swdown)
    wind = plumerise.stack_top_wind(wind10, stack.height, cls)
    rise = plumerise.final_rise(stack, t2, wind, cls)
    bottom, top = plumerise.plume_extent(rise)
    fractions = plumerise.layer_fractions(bottom, top, domain.layer_interfaces())
    return PlumeHour(cls, wind, rise, bottom, top, fractions)


def point_emissions(
    met: SurfaceMet, sources: Sequence[inventory.PointSource]
) -> tuple[dict[str, NDArray[np.float64]], list[list[PlumeHour]]]:
    """Layered NO, NO2, ROC (mol s-1), each (24, NLAYS, ROW, COL), and the plume diagnostics per stack."""
    shape = (len(met.times), domain.NLAYS, domain.NROWS, domain.NCOLS)
    out = {sp: np.zeros(shape) for sp in SPECIES}
    plumes: list[list[PlumeHour]] = []
    for src in sources:
        mean_rates = {
            **inventory.annual_to_moles_per_s(src.nox_t_yr, src.nox_speciation),
            **inventory.annual_to_moles_per_s(src.voc_t_yr, src.voc_speciation),
        }
        unknown = sorted(set(mean_rates) - set(SPECIES))
        if unknown:
            raise InputFileError(
                f"point source {src.id} ({src.name}): speciation gives {unknown}, not model species {SPECIES}"
            )
        hours = []
        for k, when in enumerate(met.times):
            cell = (k, src.row, src.col)
            plume = plume_hour(src, float(met.t2[cell]), float(met.wind10[cell]), float(met.swdown[cell]))
            factor = inventory.temporal_factor(src.temporal, when)
            for sp, rate in mean_rates.items():
                out[sp][k, :, src.row, src.col] += float(rate) * factor * plume.fractions
            hours.append(plume)
        plumes.append(hours)
    return out, plumes


def run(day: dt.date, wrfout: Path, out: Path) -> list[list[PlumeHour]]:
    met = read_met(wrfout, day)
    sources = inventory.point_sources()
    emis, plumes = point_emissions(met, sources)
    ioapi.write_gridded(
        out,
        {v: emis[v.name] for v in VARIABLES},
        start=met.times[0],
        filedesc="\n".join(
            [
                "Point-source emissions: Briggs/ISC3 plume rise, layer allocation by overlap",
                "NO, NO2 and ROC (moles of carbon) in moles/s per cell and layer",
                "The 8 AQcast chemistry layers (VGWRFEM: eta of WRF full levels), allocated by",
                "the layers' nominal heights above ground",
            ]
        ),
        history=f"emissions-point {VERSION} --date {day.isoformat()}, meteorology {wrfout.name}, "
        "inventory aqdomain point_sources.csv",
        upnam="EMIS_POINT",
        exec_id=f"emissions-point {VERSION}",
    )
    return plumes


def summary(sources: Sequence[inventory.PointSource], plumes: list[list[PlumeHour]]) -> str:
    """A short table of each stack's plume heights over the day (printed for the user)."""
    lines = ["stack  min/max plume top (m)  min/max final rise (m)  classes"]
    for src, hours in zip(sources, plumes, strict=True):
        tops = [h.top for h in hours]
        rises = [h.rise.rise for h in hours]
        classes = "".join(sorted({plumerise.CLASS_NAMES[h.stability] for h in hours}))
        lines.append(
            f"{src.id:>5}  {min(tops):8.0f} {max(tops):8.0f}     {min(rises):8.0f} {max(rises):8.0f}       "
            f"{classes}   {src.name}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emissions-point", description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=day_argument, required=True, help="simulation day (UTC), YYYY-MM-DD")
    parser.add_argument("--wrfout", type=Path, required=True, help="wrfout netCDF file holding the day")
    parser.add_argument("--out", type=Path, required=True, help="output I/O API file (emis_point.nc)")
    args = parser.parse_args(argv)
    plumes = run_step("emissions-point", args.out, lambda: run(args.date, args.wrfout, args.out))
    if plumes is None:
        return EXIT_INPUT
    print(summary(inventory.point_sources(), plumes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
