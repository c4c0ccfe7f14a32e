"""aqdomain: the shared reference domain of the AQcast components (see README.md).

Import as ``import aqdomain`` with the folder holding ``aqdomain/`` on sys.path (/app/libs in images,
<repo>/libs on the host). Modules: domain (grid, projection, layers, time), surface (terrain,
land cover, population, zones, roads), inventory (point and area sources, profiles), solar (NOAA
solar position), ioapi (Models-3 I/O API writer), wrfday (one day of a wrfout file, checked), cli
(the stages' --date argument and input-error reporting).
"""

from __future__ import annotations

from . import domain, inventory, ioapi, solar, surface
from .domain import (
    CEN_LAT,
    CEN_LON,
    DX,
    DY,
    EARTH_RADIUS_M,
    ETA_INTERFACES,
    GDNAM,
    LAYER_INTERFACES_M,
    LOCAL_UTC_OFFSET_H,
    MOAD_CEN_LAT,
    NCOLS,
    NLAYS,
    NROWS,
    P_TOP_PA,
    STAND_LON,
    TRUELAT1,
    TRUELAT2,
    VGTOP,
    VGTYP,
    WRF_ETA_LEVELS,
    XORIG,
    YORIG,
    Grid,
    eta_interfaces,
    grid,
    layer_interfaces,
    layer_midpoints,
    layer_thickness,
)
from .inventory import PointSource, area_annual_grid, point_sources
from .solar import solar_position
from .surface import LandCover, landcover, population, terrain, zones

__all__ = [
    "CEN_LAT",
    "CEN_LON",
    "DX",
    "DY",
    "EARTH_RADIUS_M",
    "ETA_INTERFACES",
    "GDNAM",
    "LAYER_INTERFACES_M",
    "LOCAL_UTC_OFFSET_H",
    "MOAD_CEN_LAT",
    "NCOLS",
    "NLAYS",
    "NROWS",
    "P_TOP_PA",
    "STAND_LON",
    "TRUELAT1",
    "TRUELAT2",
    "VGTOP",
    "VGTYP",
    "WRF_ETA_LEVELS",
    "XORIG",
    "YORIG",
    "Grid",
    "LandCover",
    "PointSource",
    "area_annual_grid",
    "domain",
    "eta_interfaces",
    "grid",
    "inventory",
    "ioapi",
    "landcover",
    "layer_interfaces",
    "layer_midpoints",
    "layer_thickness",
    "point_sources",
    "population",
    "solar",
    "solar_position",
    "surface",
    "terrain",
    "zones",
]
