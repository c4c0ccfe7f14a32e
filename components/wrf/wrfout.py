"""Write a wrfout-convention netCDF file (the history-file layout of the WRF ARW model).

Dimension names, variable names, attributes (FieldType, MemoryOrder, description, units, stagger,
coordinates) and the global projection attributes follow WRF's own output, so that xarray and
wrf-python's ``getvar`` read it like a real wrfout (T2, lat/lon, uvmet10, ua/va, z, pressure, tc ...).
Format: netCDF-4 classic model with deflate (level 4, shuffle), as WRF writes history files when built
against netCDF-4; each variable is chunked as one spatial slab by all time steps, so the time-invariant
fields (XLAT, HGT, PB, PHB ...) cost almost nothing. The file appears atomically: written under a
temporary name and renamed when complete.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
from aqdomain import domain


@dataclass(frozen=True)
class Field:
    name: str
    dims: tuple[str, ...]
    units: str
    description: str
    stagger: str = ""


T, Y, X, Z = "Time", "south_north", "west_east", "bottom_top"
XS, YS, ZS = "west_east_stag", "south_north_stag", "bottom_top_stag"

FIELDS = (
    Field("XLAT", (T, Y, X), "degree_north", "LATITUDE, SOUTH IS NEGATIVE"),
    Field("XLONG", (T, Y, X), "degree_east", "LONGITUDE, WEST IS NEGATIVE"),
    Field("U", (T, Z, Y, XS), "m s-1", "x-wind component", "X"),
    Field("V", (T, Z, YS, X), "m s-1", "y-wind component", "Y"),
    Field("W", (T, ZS, Y, X), "m s-1", "z-wind component", "Z"),
    Field("PH", (T, ZS, Y, X), "m2 s-2", "perturbation geopotential", "Z"),
    Field("PHB", (T, ZS, Y, X), "m2 s-2", "base-state geopotential", "Z"),
    Field("T", (T, Z, Y, X), "K", "perturbation potential temperature theta-t0"),
    Field("MU", (T, Y, X), "Pa", "perturbation air mass in column"),
    Field("MUB", (T, Y, X), "Pa", "base state air mass in column"),
    Field("P", (T, Z, Y, X), "Pa", "perturbation pressure"),
    Field("PB", (T, Z, Y, X), "Pa", "BASE STATE PRESSURE"),
    Field("QVAPOR", (T, Z, Y, X), "kg kg-1", "Water vapor mixing ratio"),
    Field("QCLOUD", (T, Z, Y, X), "kg kg-1", "Cloud water mixing ratio"),
    Field("QICE", (T, Z, Y, X), "kg kg-1", "Ice mixing ratio"),
    Field("ZNU", (T, Z), "", "eta values on half (mass) levels"),
    Field("ZNW", (T, ZS), "", "eta values on full (w) levels"),
    Field("DNW", (T, Z), "", "d(eta) values between full (w) levels"),
    Field("RDNW", (T, Z), "", "inverse d(eta) values between full (w) levels"),
    Field("P_TOP", (T,), "Pa", "PRESSURE TOP OF THE MODEL"),
    Field("P00", (T,), "Pa", "BASE STATE PRESSURE"),
    Field("T00", (T,), "K", "BASE STATE TEMPERATURE"),
    Field("TLP", (T,), "K", "BASE STATE LAPSE RATE"),
    Field("TISO", (T,), "K", "TEMP AT WHICH THE BASE T TURNS CONST"),
    Field("RDX", (T,), "", "INVERSE X GRID LENGTH"),
    Field("RDY", (T,), "", "INVERSE Y GRID LENGTH"),
    Field("Q2", (T, Y, X), "kg kg-1", "QV at 2 M"),
    Field("T2", (T, Y, X), "K", "TEMP at 2 M"),
    Field("PSFC", (T, Y, X), "Pa", "SFC PRESSURE"),
    Field("U10", (T, Y, X), "m s-1", "U at 10 M"),
    Field("V10", (T, Y, X), "m s-1", "V at 10 M"),
    Field("HGT", (T, Y, X), "m", "Terrain Height"),
    Field("LANDMASK", (T, Y, X), "", "LAND MASK (1 FOR LAND, 0 FOR WATER)"),
    Field("XLAND", (T, Y, X), "", "LAND MASK (1 FOR LAND, 2 FOR WATER)"),
    Field("SWDOWN", (T, Y, X), "W m-2", "DOWNWARD SHORT WAVE FLUX AT GROUND SURFACE"),
    Field("HFX", (T, Y, X), "W m-2", "UPWARD HEAT FLUX AT THE SURFACE"),
    Field("UST", (T, Y, X), "m s-1", "U* IN SIMILARITY THEORY"),
    Field("PBLH", (T, Y, X), "m", "PBL HEIGHT"),
    Field("COSALPHA", (T, Y, X), "", "Local cosine of map rotation"),
    Field("SINALPHA", (T, Y, X), "", "Local sine of map rotation"),
    Field("MAPFAC_M", (T, Y, X), "", "Map scale factor on mass grid"),
    Field("MAPFAC_U", (T, Y, XS), "", "Map scale factor on u-grid", "X"),
    Field("MAPFAC_V", (T, YS, X), "", "Map scale factor on v-grid", "Y"),
    Field("MAPFAC_MX", (T, Y, X), "", "Map scale factor on mass grid, x direction"),
    Field("MAPFAC_MY", (T, Y, X), "", "Map scale factor on mass grid, y direction"),
    Field("MAPFAC_UX", (T, Y, XS), "", "Map scale factor on u-grid, x direction", "X"),
    Field("MAPFAC_UY", (T, Y, XS), "", "Map scale factor on u-grid, y direction", "X"),
    Field("MAPFAC_VX", (T, YS, X), "", "Map scale factor on v-grid, x direction", "Y"),
    Field("MAPFAC_VY", (T, YS, X), "", "Map scale factor on v-grid, y direction", "Y"),
    Field("F", (T, Y, X), "s-1", "Coriolis sine latitude term"),
    Field("E", (T, Y, X), "s-1", "Coriolis cosine latitude term"),
    Field("XLAT_U", (T, Y, XS), "degree_north", "LATITUDE, SOUTH IS NEGATIVE", "X"),
    Field("XLONG_U", (T, Y, XS), "degree_east", "LONGITUDE, WEST IS NEGATIVE", "X"),
    Field("XLAT_V", (T, YS, X), "degree_north", "LATITUDE, SOUTH IS NEGATIVE", "Y"),
    Field("XLONG_V", (T, YS, X), "degree_east", "LONGITUDE, WEST IS NEGATIVE", "Y"),
)

_NO_COORDS = {"XLAT", "XLONG", "XLAT_U", "XLONG_U", "XLAT_V", "XLONG_V"}
# WRF's time step on this grid (its usual 6 s per km of DX): written as the DT global a wrfout carries;
# this downscaler is diagnostic and takes no time steps of its own
WRF_DT_S = 6.0 * domain.DX / 1000.0


def _coordinates(f: Field) -> str:
    if f.stagger == "X":
        return "XLONG_U XLAT_U XTIME"
    if f.stagger == "Y":
        return "XLONG_V XLAT_V XTIME"
    return "XLONG XLAT XTIME"


def _memory_order(f: Field) -> str:
    spatial = f.dims[1:]
    if len(spatial) == 3:
        return "XYZ"
    if len(spatial) == 2:
        return "XY "
    if len(spatial) == 1:
        return "Z  "
    return "0  "


def _has_coordinates(f: Field) -> bool:
    return f.name not in _NO_COORDS and (X in f.dims or XS in f.dims)


def global_attributes(start: dt.datetime) -> dict[str, object]:
    """WRF-style global attributes: grid sizes (staggered), projection, dates."""
    f4, i4 = np.float32, np.int32
    stamp = start.strftime("%Y-%m-%d_%H:%M:%S")
    return {
        "TITLE": " OUTPUT FROM THE r2o wrf REFERENCE DOWNSCALER (wrfout conventions; not NCAR WRF)",
        "START_DATE": stamp,
        "SIMULATION_START_DATE": stamp,
        "WEST-EAST_GRID_DIMENSION": i4(domain.NCOLS + 1),
        "SOUTH-NORTH_GRID_DIMENSION": i4(domain.NROWS + 1),
        "BOTTOM-TOP_GRID_DIMENSION": i4(len(domain.WRF_ETA_LEVELS)),
        "DX": f4(domain.DX),
        "DY": f4(domain.DY),
        "DYN_OPT": i4(2),
        "HYBRID_OPT": i4(0),
        "USE_THETA_M": i4(0),
        "GRIDTYPE": "C",
        "DT": f4(WRF_DT_S),
        "HYPSOMETRIC_OPT": i4(2),
        "CEN_LAT": f4(domain.CEN_LAT),
        "CEN_LON": f4(domain.CEN_LON),
        "TRUELAT1": f4(domain.TRUELAT1),
        "TRUELAT2": f4(domain.TRUELAT2),
        "MOAD_CEN_LAT": f4(domain.MOAD_CEN_LAT),
        "STAND_LON": f4(domain.STAND_LON),
        "POLE_LAT": f4(90.0),
        "POLE_LON": f4(0.0),
        "GMT": f4(start.hour + start.minute / 60.0),
        "JULYR": i4(start.year),
        "JULDAY": i4(start.timetuple().tm_yday),
        "MAP_PROJ": i4(1),
        "MAP_PROJ_CHAR": "Lambert Conformal",
        "MMINLU": "r2o-aqdomain",
        "GRID_ID": i4(1),
        "PARENT_ID": i4(0),
        "I_PARENT_START": i4(1),
        "J_PARENT_START": i4(1),
        "PARENT_GRID_RATIO": i4(1),
    }


def write_wrfout(
    path: Path, start: dt.datetime, times: list[dt.datetime], data: dict[str, np.ndarray]
) -> None:
    """Write all FIELDS (arrays with a leading time axis) plus Times and XTIME."""
    nt = len(times)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    ds = netCDF4.Dataset(tmp, "w", format="NETCDF4_CLASSIC")
    try:
        ds.createDimension(T, None)
        ds.createDimension("DateStrLen", 19)
        ds.createDimension(X, domain.NCOLS)
        ds.createDimension(Y, domain.NROWS)
        ds.createDimension(Z, len(domain.WRF_ETA_LEVELS) - 1)
        ds.createDimension(XS, domain.NCOLS + 1)
        ds.createDimension(YS, domain.NROWS + 1)
        ds.createDimension(ZS, len(domain.WRF_ETA_LEVELS))
        for key, value in global_attributes(start).items():
            ds.setncattr(key, value)
        tv = ds.createVariable("Times", "S1", (T, "DateStrLen"))
        tv[:] = np.array([list(t.strftime("%Y-%m-%d_%H:%M:%S")) for t in times], dtype="S1")
        xt = ds.createVariable("XTIME", "f4", (T,))
        xt.setncattr("FieldType", np.int32(104))
        xt.setncattr("MemoryOrder", "0  ")
        xt.setncattr("description", f"minutes since {start:%Y-%m-%d %H:%M:%S}")
        xt.setncattr("units", f"minutes since {start:%Y-%m-%d %H:%M:%S}")
        xt.setncattr("stagger", "")
        xt[:] = np.array([(t - start).total_seconds() / 60.0 for t in times], dtype=np.float32)
        for f in FIELDS:
            arr = np.asarray(data[f.name], dtype=np.float32)
            if arr.shape[0] != nt:
                raise ValueError(f"{f.name}: {arr.shape[0]} time steps, expected {nt}")
            chunks = (nt, *([1] * (arr.ndim - 3)), *arr.shape[-2:]) if arr.ndim >= 3 else arr.shape
            var = ds.createVariable(
                f.name, "f4", f.dims, zlib=True, complevel=4, shuffle=True, chunksizes=chunks
            )
            var.setncattr("FieldType", np.int32(104))
            var.setncattr("MemoryOrder", _memory_order(f))
            var.setncattr("description", f.description)
            var.setncattr("units", f.units)
            var.setncattr("stagger", f.stagger)
            if _has_coordinates(f):
                var.setncattr("coordinates", _coordinates(f))
            var[:] = arr
        ds.close()
        os.replace(tmp, path)
    except BaseException:
        if ds.isopen():
            ds.close()
        tmp.unlink(missing_ok=True)
        raise
