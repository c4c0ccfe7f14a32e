"""emissions-merge: sum the biogenic, point and area sectors into one model-ready emissions file.

Output: an I/O API GRDDED3 file, LAY = 8, 24 hourly steps, NO, NO2 and ROC in moles/s. Single-layer
sectors (biogenic, area) go into layer 1; layered sectors (point) keep their layers. Biogenic isoprene
and monoterpenes join ROC as moles of carbon: ROC += 5 ISOP + 10 TERP (C5H8 and C10H16). See README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Mapping, Sequence
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
from aqdomain import domain, ioapi  # noqa: E402
from aqdomain.cli import EXIT_INPUT, InputFileError, day_argument, run_step  # noqa: E402

VERSION = "1.0.0"
SPECIES = ("NO", "NO2", "ROC")
# Model species each sector variable feeds, with its weight (moles of model species per mole emitted).
SECTOR_MAPPING: dict[str, dict[str, tuple[str, float]]] = {
    "biogenic": {"ISOP": ("ROC", 5.0), "TERP": ("ROC", 10.0)},
    "point": {"NO": ("NO", 1.0), "NO2": ("NO2", 1.0), "ROC": ("ROC", 1.0)},
    "area": {"NO": ("NO", 1.0), "NO2": ("NO2", 1.0), "ROC": ("ROC", 1.0)},
}
VARIABLES = (
    ioapi.Variable("NO", "moles/s", "nitric oxide, all sectors (point layered; area in layer 1)"),
    ioapi.Variable("NO2", "moles/s", "nitrogen dioxide, all sectors (point layered; area in layer 1)"),
    ioapi.Variable("ROC", "moles/s", "reactive organic compounds, moles C: point + area + 5 ISOP + 10 TERP"),
)
# Header attributes that must match the reference grid for the sectors to be summable.
GRID_ATTRIBUTES = {
    "GDTYP": 2,
    "NCOLS": domain.NCOLS,
    "NROWS": domain.NROWS,
    "P_ALP": domain.TRUELAT1,
    "P_BET": domain.TRUELAT2,
    "P_GAM": domain.STAND_LON,
    "XCENT": domain.STAND_LON,
    "YCENT": domain.MOAD_CEN_LAT,
    "XORIG": domain.XORIG,
    "YORIG": domain.YORIG,
    "XCELL": domain.DX,
    "YCELL": domain.DY,
    "VGTYP": domain.VGTYP,
    "VGTOP": domain.VGTOP,
}


@dataclass(frozen=True)
class Sector:
    name: str
    path: Path
    data: dict[str, NDArray[np.float64]]  # variable -> (24, NLAYS_sector, ROW, COL) mol s-1
    nlays: int


def read_sector(name: str, path: Path, day: dt.date) -> Sector:
    """One sector file, checked against the reference grid, the layers, the day and its expected variables."""
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise InputFileError(
            f"{path}: cannot open as netCDF ({exc}); pass the {name} output of emissions-{name}"
        ) from exc
    with ds:
        for attr, want in GRID_ATTRIBUTES.items():
            if attr not in ds.ncattrs():
                raise InputFileError(
                    f"{path}: I/O API attribute {attr} is missing; not an emissions-{name} file"
                )
            got = ds.getncattr(attr)
            if not np.isclose(float(got), float(want), rtol=0.0, atol=1e-6):
                raise InputFileError(
                    f"{path}: {attr} = {got}, the reference grid has {want}; "
                    "every sector must be on the aqdomain grid"
                )
        nlays = len(ds.dimensions["LAY"]) if "LAY" in ds.dimensions else 0
        interfaces = domain.eta_interfaces()
        vglvls = np.asarray(ds.getncattr("VGLVLS"), dtype=np.float64) if "VGLVLS" in ds.ncattrs() else None
        if (
            not 1 <= nlays <= domain.NLAYS
            or vglvls is None
            or vglvls.shape != (nlays + 1,)
            or not np.allclose(vglvls, interfaces[: nlays + 1], rtol=0.0, atol=1e-6)
        ):
            raise InputFileError(
                f"{path}: layers (LAY = {nlays}, VGLVLS = {None if vglvls is None else vglvls.tolist()}) "
                "are not "
                f"the first layers of the reference column (eta interfaces {interfaces.tolist()})"
            )
        try:
            times = ioapi.read_times(ds)
        except (KeyError, AttributeError, IndexError, ValueError) as exc:
            raise InputFileError(f"{path}: cannot read TFLAG/SDATE/STIME/TSTEP ({exc})") from exc
        if times != domain.hours_of_day(day):
            first = times[0].isoformat() if times else "nothing"
            raise InputFileError(
                f"{path}: time steps are {len(times)} from {first}, "
                f"expected the 24 hours of {day.isoformat()} "
                f"(00-23 UTC); rerun emissions-{name} with --date {day.isoformat()}"
            )
        data = {}
        for var in SECTOR_MAPPING[name]:
            if var not in ds.variables:
                raise InputFileError(
                    f"{path}: variable {var} is missing; emissions-{name} writes {list(SECTOR_MAPPING[name])}"
                )
            units = str(ds.variables[var].getncattr("units")).strip()
            if units != "moles/s":
                raise InputFileError(f"{path}: {var} has units {units!r}, expected 'moles/s'")
            arr = np.asarray(ds.variables[var][:], dtype=np.float64)
            if not np.all(np.isfinite(arr)) or arr.min() < 0.0:
                raise InputFileError(f"{path}: {var} holds negative, missing or non-finite emissions")
            data[var] = arr
    return Sector(name, path, data, nlays)


def merge(sectors: Sequence[Sector]) -> dict[str, NDArray[np.float64]]:
    """NO, NO2, ROC (mol s-1), each (24, NLAYS, ROW, COL): the sum over sectors and their layers."""
    out = {sp: np.zeros((24, domain.NLAYS, domain.NROWS, domain.NCOLS)) for sp in SPECIES}
    for sector in sectors:
        for var, (species, weight) in SECTOR_MAPPING[sector.name].items():
            out[species][:, : sector.nlays] += weight * sector.data[var]
    return out


def daily_moles(sectors: Sequence[Sector]) -> dict[str, dict[str, float]]:
    """Moles per day of each model species contributed by each sector (hourly steps, 3600 s each)."""
    table: dict[str, dict[str, float]] = {}
    for sector in sectors:
        row = dict.fromkeys(SPECIES, 0.0)
        for var, (species, weight) in SECTOR_MAPPING[sector.name].items():
            row[species] += 3600.0 * weight * float(sector.data[var].sum())
        table[sector.name] = row
    return table


def run(day: dt.date, paths: Mapping[str, Path], out: Path) -> dict[str, dict[str, float]]:
    sectors = [read_sector(name, paths[name], day) for name in SECTOR_MAPPING]
    merged = merge(sectors)
    ioapi.write_gridded(
        out,
        {v: merged[v.name] for v in VARIABLES},
        start=domain.hours_of_day(day)[0],
        filedesc="\n".join(
            [
                "Model-ready emissions: biogenic + point (layered) + area",
                "NO, NO2 and ROC (moles of carbon) in moles/s per cell and layer",
                "ROC includes 5 moles C per mole ISOP and 10 per mole TERP",
                "The 8 AQcast chemistry layers (VGWRFEM: eta of WRF full levels)",
            ]
        ),
        history=f"emissions-merge {VERSION} --date {day.isoformat()} of "
        f"{', '.join(p.name for p in paths.values())}",
        upnam="EMIS_MERGE",
        exec_id=f"emissions-merge {VERSION}",
    )
    return daily_moles(sectors)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emissions-merge", description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=day_argument, required=True, help="simulation day (UTC), YYYY-MM-DD")
    for name in SECTOR_MAPPING:
        parser.add_argument(
            f"--{name}", type=Path, required=True, help=f"emis_{name}.nc from emissions-{name}"
        )
    parser.add_argument("--out", type=Path, required=True, help="output I/O API file (emis_merged.nc)")
    args = parser.parse_args(argv)
    paths = {name: getattr(args, name) for name in SECTOR_MAPPING}
    table = run_step("emissions-merge", args.out, lambda: run(args.date, paths, args.out))
    if table is None:
        return EXIT_INPUT
    print(f"daily totals for {args.date.isoformat()} (kmol per day; ROC in kmol C)")
    print(f"{'sector':<10}" + "".join(f"{sp:>12}" for sp in SPECIES))
    for name, row in {**table, "total": {sp: sum(r[sp] for r in table.values()) for sp in SPECIES}}.items():
        print(f"{name:<10}" + "".join(f"{row[sp] / 1000.0:>12.3f}" for sp in SPECIES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
