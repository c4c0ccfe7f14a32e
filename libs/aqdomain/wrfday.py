"""One UTC day of surface fields from a wrf output file, checked, for the stages that read it.

The file must hold ``Times`` and every requested field on the reference grid (``south_north`` x
``west_east`` = :data:`aqdomain.domain.NROWS` x :data:`aqdomain.domain.NCOLS`), all 24 hourly steps of
the day in any order among others, and finite values. Each problem raises
:class:`aqdomain.cli.InputFileError` naming the file, the variable and what to do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import netCDF4
import numpy as np
from numpy.typing import NDArray

from . import domain
from .cli import InputFileError

STAMP = "%Y-%m-%d_%H:%M:%S"  # WRF's Times format


def read_day(
    path: Path, day: dt.date, names: Sequence[str] = ()
) -> tuple[list[dt.datetime], dict[str, NDArray[np.float64]]]:
    """The 24 UTC hours of ``day`` and each named field at those hours, (24, ROW, COL) float64."""
    want = domain.hours_of_day(day)
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise InputFileError(
            f"{path}: cannot open as netCDF ({exc}); pass the wrf output wrfout_d01.nc"
        ) from exc
    with ds:
        for name in ("Times", *names):
            if name not in ds.variables:
                raise InputFileError(
                    f"{path}: variable {name} is missing; a wrfout file from wrf is expected"
                )
        grid = (len(ds.dimensions.get("south_north", ())), len(ds.dimensions.get("west_east", ())))
        if grid != (domain.NROWS, domain.NCOLS):
            raise InputFileError(
                f"{path}: grid (south_north, west_east) = {grid}, the reference domain is "
                f"({domain.NROWS}, {domain.NCOLS}); the wrf run must use the aqdomain grid"
            )
        times_var = ds.variables["Times"]
        times_var.set_auto_chartostring(False)  # raw (Time, DateStrLen) chars, whatever _Encoding says
        stamps = [b"".join(row).decode() for row in np.asarray(times_var[:], dtype="S1")]
        index = {s: k for k, s in enumerate(stamps)}
        missing = [w for w in want if w.strftime(STAMP) not in index]
        if missing:
            raise InputFileError(
                f"{path}: Times lacks {len(missing)} of the 24 hours of {day.isoformat()} (first missing "
                f"{missing[0]:{STAMP}}, file holds {stamps[0] if stamps else 'nothing'} .. "
                f"{stamps[-1] if stamps else ''}); run wrf for this date or pass --date of the file's day"
            )
        steps = [index[w.strftime(STAMP)] for w in want]
        fields = {}
        for name in names:
            data = np.asarray(ds.variables[name][steps], dtype=np.float64)
            if data.shape[1:] != (domain.NROWS, domain.NCOLS):
                raise InputFileError(
                    f"{path}: {name} has grid {data.shape[1:]}, the reference domain is "
                    f"({domain.NROWS}, {domain.NCOLS}); the wrf run must use the aqdomain grid"
                )
            if not np.all(np.isfinite(data)):
                raise InputFileError(f"{path}: {name} holds missing or non-finite values")
            fields[name] = data
    return want, fields
