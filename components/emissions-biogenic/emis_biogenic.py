"""emissions-biogenic: hourly isoprene and monoterpene emissions (Guenther 1993) on the reference grid.

Reads T2 and SWDOWN from a wrfout file, the land-cover fractions of the reference domain (aqdomain),
and writes an I/O API GRDDED3 file with ISOP and TERP in moles/s per cell, one layer, 24 hourly steps.
See README.md for the equations, the emission factors and what BEIS/MEGAN add.
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
import guenther  # noqa: E402
from aqdomain import domain, ioapi, surface, wrfday  # noqa: E402
from aqdomain.cli import EXIT_INPUT, day_argument, run_step  # noqa: E402

VERSION = "1.0.0"

# Canopy-scale emission factors at standard conditions (303 K, PAR 1000 umol m-2 s-1), ug m-2 h-1,
# per aqdomain land-cover category. Values from MEGAN2.1 (Guenther et al. 2012, GMD 5, 1471, Tables 2-3):
# deciduous forest = broadleaf deciduous temperate tree, coniferous forest = needleleaf evergreen
# temperate tree, grassland = warm C4 grass (short-grass prairie), cropland = crop. Monoterpenes are
# the sum of alpha-pinene, beta-pinene and "other monoterpenes". Urban and water carry no vegetation here.
ISOPRENE_EF = {
    "urban": 0.0,
    "cropland": 1.0,
    "grassland": 200.0,
    "deciduous_forest": 10000.0,
    "coniferous_forest": 600.0,
    "water": 0.0,
}
MONOTERPENE_EF = {
    "urban": 0.0,
    "cropland": 2.0 + 1.5 + 5.0,
    "grassland": 2.0 + 1.5 + 5.0,
    "deciduous_forest": 400.0 + 130.0 + 150.0,
    "coniferous_forest": 500.0 + 300.0 + 180.0,
    "water": 0.0,
}

VARIABLES = (
    ioapi.Variable("ISOP", "moles/s", "isoprene emissions, Guenther (1993) light and temperature"),
    ioapi.Variable("TERP", "moles/s", "monoterpene emissions (C10H16), Guenther (1993) beta = 0.09 K-1"),
)


@dataclass(frozen=True)
class SurfaceMet:
    times: list[dt.datetime]  # the 24 UTC hours of the day
    t2: NDArray[np.float64]  # (24, ROW, COL) K
    swdown: NDArray[np.float64]  # (24, ROW, COL) W m-2


def read_met(path: Path, day: dt.date) -> SurfaceMet:
    """T2 and SWDOWN for the 24 hours of ``day`` from a wrfout file (other hours are ignored)."""
    times, fields = wrfday.read_day(path, day, ("T2", "SWDOWN"))
    return SurfaceMet(times=times, t2=fields["T2"], swdown=fields["SWDOWN"])


def emission_factors() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Cell emission factors (ug m-2 h-1) of isoprene and monoterpenes: land-cover-weighted sums."""
    lc = surface.landcover()
    iso = sum(lc[name] * ef for name, ef in ISOPRENE_EF.items())
    terp = sum(lc[name] * ef for name, ef in MONOTERPENE_EF.items())
    return np.asarray(iso, dtype=np.float64), np.asarray(terp, dtype=np.float64)


def biogenic_emissions(met: SurfaceMet) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """ISOP and TERP in mol s-1 per cell, shaped (24, 1, ROW, COL).

    Leaf temperature is taken as the 2 m air temperature and PAR as 0.45 x 4.57 x SWDOWN (no canopy model).
    """
    ef_iso, ef_terp = emission_factors()
    par = guenther.par_from_swdown(met.swdown)
    iso_flux = ef_iso * guenther.light_factor(par) * guenther.temperature_factor(met.t2)
    terp_flux = ef_terp * guenther.monoterpene_factor(met.t2)
    area = domain.cell_area_m2()
    iso = guenther.flux_to_mol_per_s(iso_flux, area, guenther.MW_ISOPRENE)
    terp = guenther.flux_to_mol_per_s(terp_flux, area, guenther.MW_MONOTERPENE)
    return iso[:, None], terp[:, None]


def run(day: dt.date, wrfout: Path, out: Path) -> Path:
    """Write the day's biogenic emissions to ``out``; returns ``out``."""
    met = read_met(wrfout, day)
    iso, terp = biogenic_emissions(met)
    ioapi.write_gridded(
        out,
        {VARIABLES[0]: iso, VARIABLES[1]: terp},
        start=met.times[0],
        filedesc="\n".join(
            [
                "Biogenic emissions: Guenther (1993) isoprene (light, temperature), monoterpenes",
                "ISOP, TERP (C10H16) in moles/s per cell; MEGAN2.1 emission factors by land cover",
                "Surface layer of the AQcast chemistry layers (VGWRFEM: eta of WRF full levels)",
            ]
        ),
        history=f"emissions-biogenic {VERSION} --date {day.isoformat()}, meteorology {wrfout.name}",
        upnam="EMIS_BIOGENIC",
        exec_id=f"emissions-biogenic {VERSION}",
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emissions-biogenic", description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=day_argument, required=True, help="simulation day (UTC), YYYY-MM-DD")
    parser.add_argument("--wrfout", type=Path, required=True, help="wrfout netCDF file holding the day")
    parser.add_argument("--out", type=Path, required=True, help="output I/O API file (emis_biogenic.nc)")
    args = parser.parse_args(argv)
    written = run_step("emissions-biogenic", args.out, lambda: run(args.date, args.wrfout, args.out))
    return 0 if written is not None else EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
