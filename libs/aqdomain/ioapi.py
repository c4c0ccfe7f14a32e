"""Write (and read the times of) Models-3 I/O API netCDF files on the reference grid.

GRDDED3 files (FTYPE 1) as CMAQ, SMOKE and MCIP write them: dimensions TSTEP (unlimited), DATE-TIME,
LAY, VAR, ROW, COL; ``int TFLAG(TSTEP, VAR, DATE-TIME)``; ``float NAME(TSTEP, LAY, ROW, COL)`` with
16-character long_name/units and 80-character var_desc; the global attributes of the I/O API header
(SDATE/STIME/TSTEP, GDTYP = 2 Lambert, P_ALP/P_BET/P_GAM/XCENT/YCENT, XORIG/YORIG/XCELL/YCELL, VGTYP/
VGTOP/VGLVLS, VAR-LIST, FILEDESC and HISTORY in 80-character lines ...). Written with netCDF4 in
NETCDF3_CLASSIC, like the I/O API library. The vertical header is MCIP's for WRF-driven layers: VGTYP 7
(VGWRFEM), VGTOP = WRF's P_TOP (Pa), VGLVLS = the eta values of the layer interfaces used.

Reproducible: the creation/write stamps (CDATE/CTIME/WDATE/WTIME) are the file's start date and time,
not the wall clock, so two runs give identical bytes. Files appear atomically: they are written under a
temporary name in the same directory and renamed when complete.
"""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from . import domain

NAMLEN3 = 16
MXDLEN3 = 80
GRDDED3 = 1
LAMGRD3 = 2
IOAPI_VERSION = "aqdomain.ioapi: Models-3 I/O API 3.2 netCDF conventions"


MXDESC3 = 60  # lines of FILEDESC (the I/O API's FDESC3D(MXDESC3) of CHARACTER*80)


def pad(text: str, width: int) -> str:
    """Blank-pad (or cut) to a fixed width, as Fortran CHARACTER*width."""
    return text[:width].ljust(width)


def description_lines(text: str) -> str:
    """FILEDESC/HISTORY text as the I/O API stores it: lines of exactly 80 characters, concatenated.

    Each line of ``text`` is word-wrapped at 80 characters and blank-padded (Fortran CHARACTER*80
    FDESC3D(60)); at most 60 lines are kept. An empty text is one blank line.
    """
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, MXDLEN3, break_long_words=True) or [""]
    return "".join(pad(line, MXDLEN3) for line in lines[:MXDESC3])


def split_description(value: str) -> list[str]:
    """The 80-character lines of a FILEDESC/HISTORY attribute, trailing blanks removed."""
    return [value[i : i + MXDLEN3].rstrip() for i in range(0, len(value), MXDLEN3)]


def julian_date(when: dt.date | dt.datetime) -> int:
    """YYYYDDD."""
    return when.year * 1000 + when.timetuple().tm_yday


def hhmmss(when: dt.datetime | dt.timedelta) -> int:
    """HHMMSS of a time of day or of a duration (hours may exceed 24 for durations)."""
    if isinstance(when, dt.timedelta):
        secs = int(when.total_seconds())
    else:
        secs = when.hour * 3600 + when.minute * 60 + when.second
    return (secs // 3600) * 10000 + (secs % 3600) // 60 * 100 + secs % 60


def tstep_to_timedelta(tstep: int) -> dt.timedelta:
    """An I/O API HHMMSS time step as a duration."""
    return dt.timedelta(hours=tstep // 10000, minutes=(tstep // 100) % 100, seconds=tstep % 100)


def from_tflag(yyyyddd: int, hms: int) -> dt.datetime:
    """A (YYYYDDD, HHMMSS) pair as a naive UTC datetime."""
    base = dt.datetime(yyyyddd // 1000, 1, 1) + dt.timedelta(days=yyyyddd % 1000 - 1)
    return base + tstep_to_timedelta(hms)


def tflag(start: dt.datetime, tstep: int, nsteps: int, nvars: int) -> np.ndarray:
    """TFLAG values, int32 (nsteps, nvars, 2)."""
    step = tstep_to_timedelta(tstep)
    out = np.zeros((nsteps, nvars, 2), dtype=np.int32)
    for t in range(nsteps):
        when = start + t * step
        out[t, :, 0] = julian_date(when)
        out[t, :, 1] = hhmmss(when)
    return out


@dataclass(frozen=True)
class Variable:
    """One I/O API variable: name (<= 16 chars), units (<= 16), description (<= 80)."""

    name: str
    units: str
    description: str


def header_attributes(
    *,
    start: dt.datetime,
    tstep: int,
    nlays: int,
    names: Sequence[str],
    vglvls: Sequence[float] | None = None,
    vgtyp: int = domain.VGTYP,
    vgtop: float = domain.VGTOP,
    filedesc: str = "",
    history: str = "",
    upnam: str = "aqdomain",
    exec_id: str = "aqdomain",
    ftype: int = GRDDED3,
) -> dict[str, object]:
    """The global attributes of a GRDDED3 file on the reference grid, in I/O API order and types."""
    if vglvls is None:
        vglvls = domain.ETA_INTERFACES[: nlays + 1]
    if len(vglvls) != nlays + 1:
        raise ValueError(f"VGLVLS needs NLAYS + 1 = {nlays + 1} values, got {len(vglvls)}")
    sdate, stime = julian_date(start), hhmmss(start)
    i32 = np.int32
    return {
        "IOAPI_VERSION": pad(IOAPI_VERSION, MXDLEN3),
        "EXEC_ID": pad(exec_id, MXDLEN3),
        "FTYPE": i32(ftype),
        "CDATE": i32(sdate),
        "CTIME": i32(stime),
        "WDATE": i32(sdate),
        "WTIME": i32(stime),
        "SDATE": i32(sdate),
        "STIME": i32(stime),
        "TSTEP": i32(tstep),
        "NTHIK": i32(1),
        "NCOLS": i32(domain.NCOLS),
        "NROWS": i32(domain.NROWS),
        "NLAYS": i32(nlays),
        "NVARS": i32(len(names)),
        "GDTYP": i32(LAMGRD3),
        "P_ALP": np.float64(domain.TRUELAT1),
        "P_BET": np.float64(domain.TRUELAT2),
        "P_GAM": np.float64(domain.STAND_LON),
        "XCENT": np.float64(domain.STAND_LON),
        "YCENT": np.float64(domain.MOAD_CEN_LAT),
        "XORIG": np.float64(domain.XORIG),
        "YORIG": np.float64(domain.YORIG),
        "XCELL": np.float64(domain.DX),
        "YCELL": np.float64(domain.DY),
        "VGTYP": i32(vgtyp),
        "VGTOP": np.float32(vgtop),
        "VGLVLS": np.asarray(vglvls, dtype=np.float32),
        "GDNAM": pad(domain.GDNAM, NAMLEN3),
        "UPNAM": pad(upnam, NAMLEN3),
        "VAR-LIST": "".join(pad(n, NAMLEN3) for n in names),
        "FILEDESC": description_lines(filedesc),
        "HISTORY": description_lines(history),
    }


class GriddedFile:
    """An open GRDDED3 file being written; use :func:`create_gridded` (a context manager)."""

    def __init__(self, ds: netCDF4.Dataset, variables: Sequence[Variable], nsteps: int, nlays: int) -> None:
        self.ds = ds
        self.variables = {v.name: v for v in variables}
        self.nsteps = nsteps
        self.nlays = nlays

    def write(self, name: str, data: np.ndarray, step: int | None = None) -> None:
        """Write a whole variable (TSTEP, LAY, ROW, COL), or one step (LAY, ROW, COL) given ``step``."""
        if name not in self.variables:
            raise KeyError(f"{name!r} is not a variable of this file: {sorted(self.variables)}")
        arr = np.asarray(data, dtype=np.float32)
        shape = (self.nlays, domain.NROWS, domain.NCOLS)
        if step is None:
            if arr.shape != (self.nsteps, *shape):
                raise ValueError(f"{name}: expected shape {(self.nsteps, *shape)}, got {arr.shape}")
            self.ds.variables[name][:] = arr
        else:
            if arr.shape != shape:
                raise ValueError(f"{name}: expected shape {shape} for one step, got {arr.shape}")
            self.ds.variables[name][step] = arr


@contextmanager
def create_gridded(
    path: str | Path,
    variables: Sequence[Variable],
    *,
    start: dt.datetime,
    nsteps: int,
    nlays: int,
    tstep: int = 10000,
    vglvls: Sequence[float] | None = None,
    vgtyp: int = domain.VGTYP,
    vgtop: float = domain.VGTOP,
    filedesc: str = "",
    history: str = "",
    upnam: str = "aqdomain",
    exec_id: str = "aqdomain",
) -> Iterator[GriddedFile]:
    """Create a GRDDED3 file; it appears at ``path`` only if the ``with`` block finishes without error.

    ``start`` is the first time step (naive UTC datetime); ``tstep`` is HHMMSS (10000 = hourly).
    """
    path = Path(path)
    for v in variables:
        if len(v.name) > NAMLEN3 or len(v.units) > NAMLEN3 or len(v.description) > MXDLEN3:
            raise ValueError(f"variable {v.name!r}: name/units <= 16 and description <= 80 characters")
    names = [v.name for v in variables]
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    ds = netCDF4.Dataset(tmp, "w", format="NETCDF3_CLASSIC")
    try:
        ds.createDimension("TSTEP", None)
        ds.createDimension("DATE-TIME", 2)
        ds.createDimension("LAY", nlays)
        ds.createDimension("VAR", len(names))
        ds.createDimension("ROW", domain.NROWS)
        ds.createDimension("COL", domain.NCOLS)
        tf = ds.createVariable("TFLAG", "i4", ("TSTEP", "VAR", "DATE-TIME"))
        tf.setncattr("units", "<YYYYDDD,HHMMSS>")
        tf.setncattr("long_name", pad("TFLAG", NAMLEN3))
        tf.setncattr("var_desc", pad("Timestep-valid flags:  (1) YYYYDDD or (2) HHMMSS", MXDLEN3))
        for v in variables:
            var = ds.createVariable(v.name, "f4", ("TSTEP", "LAY", "ROW", "COL"))
            var.setncattr("long_name", pad(v.name, NAMLEN3))
            var.setncattr("units", pad(v.units, NAMLEN3))
            var.setncattr("var_desc", pad(v.description, MXDLEN3))
        attrs = header_attributes(
            start=start,
            tstep=tstep,
            nlays=nlays,
            names=names,
            vglvls=vglvls,
            vgtyp=vgtyp,
            vgtop=vgtop,
            filedesc=filedesc,
            history=history,
            upnam=upnam,
            exec_id=exec_id,
        )
        for key, value in attrs.items():
            ds.setncattr(key, value)
        tf[:] = tflag(start, tstep, nsteps, len(names))
        yield GriddedFile(ds, variables, nsteps, nlays)
        ds.close()
        os.replace(tmp, path)
    except BaseException:
        if ds.isopen():
            ds.close()
        tmp.unlink(missing_ok=True)
        raise


def write_gridded(
    path: str | Path,
    data: Mapping[Variable, np.ndarray],
    *,
    start: dt.datetime,
    tstep: int = 10000,
    vglvls: Sequence[float] | None = None,
    vgtyp: int = domain.VGTYP,
    vgtop: float = domain.VGTOP,
    filedesc: str = "",
    history: str = "",
    upnam: str = "aqdomain",
    exec_id: str = "aqdomain",
) -> None:
    """Write a complete GRDDED3 file from arrays shaped (TSTEP, LAY, ROW, COL); see :func:`create_gridded`."""
    arrays = {v: np.asarray(a) for v, a in data.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1:
        raise ValueError(f"all variables must share one shape (TSTEP, LAY, ROW, COL), got {sorted(shapes)}")
    nsteps, nlays = next(iter(shapes))[:2]
    with create_gridded(
        path,
        list(arrays),
        start=start,
        nsteps=nsteps,
        nlays=nlays,
        tstep=tstep,
        vglvls=vglvls,
        vgtyp=vgtyp,
        vgtop=vgtop,
        filedesc=filedesc,
        history=history,
        upnam=upnam,
        exec_id=exec_id,
    ) as f:
        for v, a in arrays.items():
            f.write(v.name, a)


def read_times(ds: netCDF4.Dataset) -> list[dt.datetime]:
    """The time stamps of an open I/O API file, from TFLAG (first variable), else SDATE/STIME/TSTEP."""
    if "TFLAG" in ds.variables:
        tf = np.asarray(ds.variables["TFLAG"][:])
        return [from_tflag(int(d), int(t)) for d, t in tf[:, 0, :]]
    start = from_tflag(int(ds.getncattr("SDATE")), int(ds.getncattr("STIME")))
    step = tstep_to_timedelta(int(ds.getncattr("TSTEP")))
    return [start + k * step for k in range(len(ds.dimensions["TSTEP"]))]


def variable_names(ds: netCDF4.Dataset) -> list[str]:
    """Names from VAR-LIST (16-character fields)."""
    text = str(ds.getncattr("VAR-LIST"))
    fields = (text[i : i + NAMLEN3].strip() for i in range(0, len(text), NAMLEN3))
    return [f for f in fields if f]
