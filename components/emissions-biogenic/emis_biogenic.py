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

import netCDF4
import numpy as np
from numpy.typing import NDArray

# aqdomain sits in /app/libs in the image (also on PYTHONPATH) and in <repo>/libs for native runs
HERE = Path(__file__).resolve().parent
for _libs in (HERE / "libs", HERE.parent.parent / "libs"):  # parents[1] fails for /app
    if (_libs / "aqdomain").is_dir() and str(_libs) not in sys.path:
        sys.path.insert(0, str(_libs))
import guenther  # noqa: E402
from aqdomain import domain, ioapi, surface  # noqa: E402

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


class InputFileError(Exception):
    """A bad or missing input file; the message names the file, the field and what to do."""


@dataclass(frozen=True)
class SurfaceMet:
    times: list[dt.datetime]  # the 24 UTC hours of the day
    t2: NDArray[np.float64]  # (24, ROW, COL) K
    swdown: NDArray[np.float64]  # (24, ROW, COL) W m-2


def read_met(path: Path, day: dt.date) -> SurfaceMet:
    """T2 and SWDOWN for the 24 hours of ``day`` from a wrfout file (other hours are ignored)."""
    want = domain.hours_of_day(day)
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise InputFileError(
            f"{path}: cannot open as netCDF ({exc}); pass the wrf output wrfout_d01.nc"
        ) from exc
    with ds:
        for name in ("Times", "T2", "SWDOWN"):
            if name not in ds.variables:
                raise InputFileError(
                    f"{path}: variable {name} is missing; a wrfout file from wrf is expected"
                )
        times_var = ds.variables["Times"]
        times_var.set_auto_chartostring(False)  # raw (Time, DateStrLen) chars, whatever _Encoding says
        stamps = [b"".join(row).decode() for row in np.asarray(times_var[:], dtype="S1")]
        index = {s: k for k, s in enumerate(stamps)}
        missing = [w for w in want if w.strftime("%Y-%m-%d_%H:%M:%S") not in index]
        if missing:
            raise InputFileError(
                f"{path}: Times lacks {len(missing)} of the 24 hours of {day.isoformat()} (first missing "
                f"{missing[0]:%Y-%m-%d_%H:%M:%S}, file holds {stamps[0] if stamps else 'nothing'} .. "
                f"{stamps[-1] if stamps else ''}); run wrf for this date or pass --date of the file's day"
            )
        steps = [index[w.strftime("%Y-%m-%d_%H:%M:%S")] for w in want]
        fields = {}
        for name in ("T2", "SWDOWN"):
            data = np.asarray(ds.variables[name][steps], dtype=np.float64)
            if data.shape[1:] != (domain.NROWS, domain.NCOLS):
                raise InputFileError(
                    f"{path}: {name} has grid {data.shape[1:]}, the reference domain is "
                    f"({domain.NROWS}, {domain.NCOLS}); the wrf run must use the aqdomain grid"
                )
            if not np.all(np.isfinite(data)):
                raise InputFileError(f"{path}: {name} holds missing or non-finite values")
            fields[name] = data
    return SurfaceMet(times=want, t2=fields["T2"], swdown=fields["SWDOWN"])


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


def run(day: dt.date, wrfout: Path, out: Path) -> None:
    met = read_met(wrfout, day)
    iso, terp = biogenic_emissions(met)
    ioapi.write_gridded(
        out,
        {VARIABLES[0]: iso, VARIABLES[1]: terp},
        start=met.times[0],
        filedesc="Biogenic emissions: Guenther (1993) isoprene (light, temperature) and monoterpenes",
        history=f"emissions-biogenic {VERSION} from {wrfout.name} for {day.isoformat()}",
        upnam="EMIS_BIOGENIC",
        exec_id=f"emissions-biogenic {VERSION}",
    )


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--date must be YYYY-MM-DD, got {text!r}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emissions-biogenic", description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=_parse_date, required=True, help="simulation day (UTC), YYYY-MM-DD")
    parser.add_argument("--wrfout", type=Path, required=True, help="wrfout netCDF file holding the day")
    parser.add_argument("--out", type=Path, required=True, help="output I/O API file (emis_biogenic.nc)")
    args = parser.parse_args(argv)
    try:
        run(args.date, args.wrfout, args.out)
    except InputFileError as exc:
        print(f"emissions-biogenic: error: {exc}", file=sys.stderr)
        return 3
    except OSError as exc:
        print(f"emissions-biogenic: error: cannot write {args.out}: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
