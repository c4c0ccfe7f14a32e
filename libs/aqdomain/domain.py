"""The reference domain: Lambert conformal grid, vertical layers, time conventions.

A 48 x 48 grid of 4 km cells centred on (40 N, 105 W); WRF's 33 eta levels to 5000 Pa and the 8 chemistry
layers collapsed from them.
The projection is the WRF / Models-3 spherical Lambert conformal conic (R = 6,370,000 m), written
here from the textbook formulas (Snyder 1987, "Map Projections - A Working Manual", eqs. 15-1..15-11
on a sphere) so that component images need numpy only (no pyproj).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

# --- projection (WRF namelist names; Models-3 equivalents in comments) ---------------------
EARTH_RADIUS_M = 6_370_000.0
TRUELAT1 = 30.0  # P_ALP
TRUELAT2 = 60.0  # P_BET
STAND_LON = -105.0  # P_GAM and XCENT
MOAD_CEN_LAT = 40.0  # YCENT (latitude of the projection origin)
CEN_LAT = 40.0
CEN_LON = -105.0

# --- horizontal grid -----------------------------------------------------------------------
NCOLS = 48  # west_east, COL
NROWS = 48  # south_north, ROW
DX = 4000.0  # m, XCELL
DY = 4000.0  # m, YCELL
XORIG = -NCOLS / 2 * DX  # SW corner of the SW cell in projection metres (origin at the centre)
YORIG = -NROWS / 2 * DY
GDNAM = "AQREF_4KM"

# --- vertical: WRF's eta levels and the chemistry layers collapsed from them ---------------
# WRF's terrain-following hydrostatic-pressure coordinate: eta = (p - P_TOP) / (p_surface - P_TOP), 1 at the
# ground, 0 at the model top. 33 full levels (WRF's classic e_vert = 33), written like a WRF namelist's
# eta_levels: the eta of WRF_NOMINAL_HEIGHTS_M above ground in the US Standard Atmosphere 1976 over the
# domain's mean terrain (2000 m), rounded to 4 decimals; the top, 5000 Pa, is about 20.6 km above sea level.
P_TOP_PA = 5000.0
WRF_NOMINAL_HEIGHTS_M = (
    0.0, 40.0, 100.0, 150.0, 200.0, 300.0, 400.0, 550.0, 700.0, 900.0, 1100.0, 1350.0, 1600.0, 1950.0,
    2300.0, 2700.0, 3200.0, 3800.0, 4500.0, 5300.0, 6100.0, 6900.0, 7700.0, 8500.0, 9300.0, 10100.0,
    10900.0, 11800.0, 12800.0, 14000.0, 15300.0, 16800.0,
)  # fmt: skip
WRF_ETA_LEVELS = (
    1.0, 0.9947, 0.9868, 0.9803, 0.9738, 0.9608, 0.9481, 0.9291, 0.9105, 0.886, 0.8621, 0.8329, 0.8044,
    0.7657, 0.7285, 0.6876, 0.6389, 0.5838, 0.524, 0.4612, 0.4039, 0.3517, 0.3044, 0.2614, 0.2226, 0.1883,
    0.158, 0.1282, 0.0997, 0.071, 0.0454, 0.0217, 0.0,
)  # fmt: skip
# The chemistry layers (cmaq, the emissions): WRF's lowest 14 layers collapsed into 8, as MCIP does, by
# taking a subset of WRF's full levels as the layer interfaces. VGTYP 7 (VGWRFEM), VGTOP = P_TOP and
# VGLVLS = the interfaces' eta values: the header MCIP writes for WRF-driven CMAQ layers.
CTM_LEVEL_INDICES = (0, 1, 2, 4, 6, 8, 10, 12, 14)
NLAYS = len(CTM_LEVEL_INDICES) - 1
ETA_INTERFACES = tuple(WRF_ETA_LEVELS[i] for i in CTM_LEVEL_INDICES)
# nominal heights above ground of the chemistry layer interfaces (the actual heights vary by column and
# hour with temperature and terrain, by up to ~10 %; cmaq reads them from the wrfout)
LAYER_INTERFACES_M = tuple(WRF_NOMINAL_HEIGHTS_M[i] for i in CTM_LEVEL_INDICES)
VGTYP = 7  # VGWRFEM (I/O API PARMS3)
VGTOP = P_TOP_PA

# --- time ------------------------------------------------------------------------------------
LOCAL_UTC_OFFSET_H = -7  # Mountain Standard Time; dates are UTC days
HOURS_PER_DAY = 24


def layer_interfaces() -> np.ndarray:
    """Nominal layer interface heights above ground (m), shape (NLAYS + 1,)."""
    return np.array(LAYER_INTERFACES_M, dtype=np.float64)


def layer_midpoints() -> np.ndarray:
    """Nominal layer mid-heights above ground (m), shape (NLAYS,)."""
    zf = layer_interfaces()
    return 0.5 * (zf[:-1] + zf[1:])


def layer_thickness() -> np.ndarray:
    """Nominal layer thicknesses (m), shape (NLAYS,)."""
    return np.diff(layer_interfaces())


def eta_interfaces() -> np.ndarray:
    """Eta of the chemistry layer interfaces (VGLVLS), shape (NLAYS + 1,), 1 at the ground."""
    return np.array(ETA_INTERFACES, dtype=np.float64)


def cone_factor() -> float:
    """Lambert cone constant n (wrf-python's "cone"), for TRUELAT1 != TRUELAT2."""
    p1, p2 = math.radians(TRUELAT1), math.radians(TRUELAT2)
    return (math.log(math.cos(p1)) - math.log(math.cos(p2))) / (
        math.log(math.tan(math.pi / 4 - p1 / 2)) - math.log(math.tan(math.pi / 4 - p2 / 2))
    )


def _rho(lat_rad: np.ndarray | float, n: float, f: float) -> np.ndarray:
    return EARTH_RADIUS_M * f / np.tan(np.pi / 4 + np.asarray(lat_rad) / 2) ** n


def _constants() -> tuple[float, float, float]:
    n = cone_factor()
    p1 = math.radians(TRUELAT1)
    f = math.cos(p1) * math.tan(math.pi / 4 + p1 / 2) ** n / n
    rho0 = float(_rho(math.radians(MOAD_CEN_LAT), n, f))
    return n, f, rho0


def ll_to_xy(lat: np.ndarray | float, lon: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Latitude/longitude (degrees) to projection x/y (m, origin at (MOAD_CEN_LAT, STAND_LON))."""
    n, f, rho0 = _constants()
    rho = _rho(np.radians(lat), n, f)
    dlon = (np.asarray(lon, dtype=np.float64) - STAND_LON + 180.0) % 360.0 - 180.0
    theta = n * np.radians(dlon)
    return rho * np.sin(theta), rho0 - rho * np.cos(theta)


def xy_to_ll(x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Projection x/y (m) to latitude/longitude (degrees)."""
    n, f, rho0 = _constants()
    x = np.asarray(x, dtype=np.float64)
    dy = rho0 - np.asarray(y, dtype=np.float64)
    rho = np.sign(n) * np.hypot(x, dy)
    theta = np.arctan2(np.sign(n) * x, np.sign(n) * dy)
    lat = np.degrees(2.0 * np.arctan((EARTH_RADIUS_M * f / rho) ** (1.0 / n)) - np.pi / 2)
    lon = STAND_LON + np.degrees(theta / n)
    return lat, lon


def map_factor(lat: np.ndarray | float) -> np.ndarray:
    """Map scale factor m (grid distance / earth distance) at latitude (degrees)."""
    n, f, _ = _constants()
    phi = np.radians(lat)
    return n * _rho(phi, n, f) / (EARTH_RADIUS_M * np.cos(phi))


def rotation_angle(lon: np.ndarray | float, cone: float | None = None) -> np.ndarray:
    """Grid rotation a (radians) against true north: a = n (lon - STAND_LON), n = cone_factor() if None."""
    dlon = (np.asarray(lon, dtype=np.float64) - STAND_LON + 180.0) % 360.0 - 180.0
    return (cone_factor() if cone is None else cone) * np.radians(dlon)


def earth_to_grid(
    u_earth: np.ndarray, v_earth: np.ndarray, lon: np.ndarray | float, cone: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate earth-relative (east, north) wind to grid-relative components (WRF U/V convention)."""
    a = rotation_angle(lon, cone)
    return u_earth * np.cos(a) - v_earth * np.sin(a), v_earth * np.cos(a) + u_earth * np.sin(a)


def grid_to_earth(
    u_grid: np.ndarray, v_grid: np.ndarray, lon: np.ndarray | float, cone: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate grid-relative wind to earth-relative (the formula wrf-python's uvmet uses)."""
    a = rotation_angle(lon, cone)
    return u_grid * np.cos(a) + v_grid * np.sin(a), v_grid * np.cos(a) - u_grid * np.sin(a)


@dataclass(frozen=True)
class Grid:
    """Cell-centre coordinates, all arrays shaped (NROWS, NCOLS) = (south_north, west_east)."""

    x: np.ndarray  # projection metres
    y: np.ndarray
    lat: np.ndarray  # degrees north
    lon: np.ndarray  # degrees east


def grid() -> Grid:
    """Cell centres of the reference grid (row 0 = south, column 0 = west)."""
    xc = XORIG + (np.arange(NCOLS) + 0.5) * DX
    yc = YORIG + (np.arange(NROWS) + 0.5) * DY
    x, y = np.meshgrid(xc, yc)
    lat, lon = xy_to_ll(x, y)
    return Grid(x=x, y=y, lat=lat, lon=lon)


def staggered_grid(axis: str) -> Grid:
    """Face centres: axis "x" -> (NROWS, NCOLS + 1) U points; "y" -> (NROWS + 1, NCOLS) V points."""
    if axis == "x":
        xc = XORIG + np.arange(NCOLS + 1) * DX
        yc = YORIG + (np.arange(NROWS) + 0.5) * DY
    elif axis == "y":
        xc = XORIG + (np.arange(NCOLS) + 0.5) * DX
        yc = YORIG + np.arange(NROWS + 1) * DY
    else:
        raise ValueError(f"staggered_grid: axis must be 'x' or 'y', not {axis!r}")
    x, y = np.meshgrid(xc, yc)
    lat, lon = xy_to_ll(x, y)
    return Grid(x=x, y=y, lat=lat, lon=lon)


def cell_of(lat: float, lon: float) -> tuple[int, int]:
    """(row, col) of the cell holding a point; raises ValueError outside the domain."""
    x, y = ll_to_xy(lat, lon)
    col = math.floor((float(x) - XORIG) / DX)
    row = math.floor((float(y) - YORIG) / DY)
    if not (0 <= col < NCOLS and 0 <= row < NROWS):
        raise ValueError(f"point ({lat}, {lon}) lies outside the reference domain")
    return row, col


def hours_of_day(day: dt.date) -> list[dt.datetime]:
    """The 24 hourly UTC time stamps 00:00..23:00 of a UTC day (naive datetimes, UTC)."""
    start = dt.datetime(day.year, day.month, day.day)
    return [start + dt.timedelta(hours=h) for h in range(HOURS_PER_DAY)]


def local_hour(utc_hour: np.ndarray | int) -> np.ndarray:
    """Local standard time hour (0..23) of a UTC hour."""
    return (np.asarray(utc_hour) + LOCAL_UTC_OFFSET_H) % 24


def cell_area_m2() -> float:
    """Area of one grid cell in projection metres squared (map-factor effects, < 0.5 %, ignored)."""
    return DX * DY
