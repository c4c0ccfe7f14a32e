"""emissions-area: gridded hourly area and mobile-source NO, NO2 and ROC from the zone inventory.

Spatial allocation: each zone's annual sector total (aqdomain area inventory; zones from the population
density) is spread over the zone's cells in proportion to the sector's surrogate (population, roads or
land). Temporal allocation: annual / 8760 x monthly x weekday x hourly factors (local standard time).
Speciation: NOX (as NO2 mass) into NO and NO2 by mole fraction; VOC into ROC in moles of carbon.
Writes an I/O API GRDDED3 file, LAY = 1, 24 hourly steps. See README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

# aqdomain sits in /app/libs in the image (also on PYTHONPATH) and in <repo>/libs for native runs
HERE = Path(__file__).resolve().parent
for _libs in (HERE / "libs", HERE.parent.parent / "libs"):  # parents[1] fails for /app
    if (_libs / "aqdomain").is_dir() and str(_libs) not in sys.path:
        sys.path.insert(0, str(_libs))
from aqdomain import domain, inventory, ioapi, wrfday  # noqa: E402
from aqdomain.cli import EXIT_INPUT, InputFileError, day_argument, run_step  # noqa: E402

VERSION = "1.0.0"
SPECIES = ("NO", "NO2", "ROC")
POLLUTANTS = {"NOX": "nox_speciation", "VOC": "voc_speciation"}
VARIABLES = (
    ioapi.Variable("NO", "moles/s", "nitric oxide from area and mobile sources"),
    ioapi.Variable("NO2", "moles/s", "nitrogen dioxide from area and mobile sources"),
    ioapi.Variable("ROC", "moles/s", "reactive organic compounds (moles of carbon), area and mobile sources"),
)


def check_met(path: Path, day: dt.date) -> list[dt.datetime]:
    """The 24 UTC hours of ``day``, after checking the wrfout holds them on the reference grid.

    Area emissions here do not depend on the weather; the wrfout fixes the day and the grid, so a run
    against the wrong meteorology fails loudly instead of producing a mismatched file.
    """
    times, _ = wrfday.read_day(path, day)
    return times


def sector_mean_rates(sector: str) -> dict[str, NDArray[np.float64]]:
    """Annual-mean mol s-1 per cell of NO, NO2 and ROC for one sector, each (ROW, COL)."""
    spec = inventory.area_inventory()["sectors"][sector]
    rates = {sp: np.zeros((domain.NROWS, domain.NCOLS)) for sp in SPECIES}
    for pollutant, key in POLLUTANTS.items():
        annual = inventory.area_annual_grid(sector, pollutant)  # t/yr per cell, zone totals conserved
        for sp, arr in inventory.annual_to_moles_per_s(annual, spec[key]).items():
            if sp not in rates:
                raise InputFileError(
                    f"area inventory sector {sector!r}: speciation {spec[key]!r} gives {sp!r}, "
                    f"not one of the model species {SPECIES}"
                )
            rates[sp] += arr
    return rates


def area_emissions(
    times: Sequence[dt.datetime],
) -> tuple[dict[str, NDArray[np.float64]], dict[str, NDArray[np.float64]]]:
    """NO, NO2, ROC (mol s-1), each (24, 1, ROW, COL), and each sector's daily moles per species."""
    shape = (len(times), 1, domain.NROWS, domain.NCOLS)
    out = {sp: np.zeros(shape) for sp in SPECIES}
    daily: dict[str, NDArray[np.float64]] = {}
    for sector in inventory.area_sectors():
        profile = inventory.area_inventory()["sectors"][sector]["temporal"]
        rates = sector_mean_rates(sector)
        factors = np.array([inventory.temporal_factor(profile, when) for when in times])
        for sp in SPECIES:
            out[sp][:, 0] += factors[:, None, None] * rates[sp][None]
        daily[sector] = np.array([3600.0 * factors.sum() * rates[sp].sum() for sp in SPECIES])
    return out, daily


def run(day: dt.date, wrfout: Path, out: Path) -> dict[str, NDArray[np.float64]]:
    times = check_met(wrfout, day)
    emis, daily = area_emissions(times)
    ioapi.write_gridded(
        out,
        {v: emis[v.name] for v in VARIABLES},
        start=times[0],
        filedesc="\n".join(
            [
                "Area and mobile sources: surrogate allocation, temporal profiles, speciation",
                "NO, NO2 and ROC (moles of carbon) in moles/s per cell",
                "Surface layer of the AQcast chemistry layers (VGWRFEM: eta of WRF full levels)",
            ]
        ),
        history=f"emissions-area {VERSION} --date {day.isoformat()}, inventory aqdomain area_inventory.yaml",
        upnam="EMIS_AREA",
        exec_id=f"emissions-area {VERSION}",
    )
    return daily


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emissions-area", description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=day_argument, required=True, help="simulation day (UTC), YYYY-MM-DD")
    parser.add_argument("--wrfout", type=Path, required=True, help="wrfout netCDF file holding the day")
    parser.add_argument("--out", type=Path, required=True, help="output I/O API file (emis_area.nc)")
    args = parser.parse_args(argv)
    daily = run_step("emissions-area", args.out, lambda: run(args.date, args.wrfout, args.out))
    if daily is None:
        return EXIT_INPUT
    print(f"daily totals for {args.date.isoformat()} (kmol per day)")
    print(f"{'sector':<14}" + "".join(f"{sp:>10}" for sp in SPECIES))
    for sector, moles in daily.items():
        print(f"{sector:<14}" + "".join(f"{m / 1000.0:>10.2f}" for m in moles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
