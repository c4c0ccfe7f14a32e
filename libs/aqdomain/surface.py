"""Deterministic synthetic surface: terrain, land cover, population, zones and a road surrogate.

Everything is an analytic function of the projection coordinates, so it is identical on every
machine and needs no data file. The geography is Front-Range-like: high plains sloping gently
east, a north-south mountain ridge in the west cut by an east-west valley, a large city on the
plains and a smaller town near the foothills.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .domain import DX, DY, grid, ll_to_xy

# City and town centres (lat, lon) and their population parameters.
CITY_LATLON = (39.74, -104.99)
TOWN_LATLON = (40.015, -105.27)
CITY_POPULATION = 2_400_000.0
TOWN_POPULATION = 110_000.0
RURAL_DENSITY_KM2 = 6.0

# Terrain: plains elevation at the origin, eastward slope, ridge and valley geometry.
PLAINS_ELEVATION_M = 1600.0
PLAINS_SLOPE = -0.004  # m of elevation per m eastward
RIDGE_X_M = -62_000.0
RIDGE_HEIGHT_M = 1700.0
RIDGE_HALF_WIDTH_M = 16_000.0
VALLEY_Y_M = 30_000.0
VALLEY_HALF_WIDTH_M = 7_000.0
VALLEY_DEPTH_FRACTION = 0.65  # share of the ridge height the valley cuts away

LANDCOVER_CATEGORIES = (
    "urban",
    "cropland",
    "grassland",
    "deciduous_forest",
    "coniferous_forest",
    "water",
)


def _xy_km(lat: float, lon: float) -> tuple[float, float]:
    x, y = ll_to_xy(lat, lon)
    return float(x), float(y)


def terrain_at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Terrain height (m above sea level) at projection coordinates (m)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    plains = PLAINS_ELEVATION_M + PLAINS_SLOPE * x
    ridge = RIDGE_HEIGHT_M * np.exp(-(((x - RIDGE_X_M) / RIDGE_HALF_WIDTH_M) ** 2))
    notch = 1.0 - VALLEY_DEPTH_FRACTION * np.exp(-(((y - VALLEY_Y_M) / VALLEY_HALF_WIDTH_M) ** 2))
    # the mountain block rises west of the ridge crest too, not back to plains level
    west_block = 0.55 * RIDGE_HEIGHT_M / (1.0 + np.exp((x - RIDGE_X_M) / 6000.0))
    return plains + (ridge + west_block) * notch


def terrain() -> np.ndarray:
    """Terrain height (m ASL) at cell centres, shape (NROWS, NCOLS): a ridge and a valley."""
    g = grid()
    return terrain_at(g.x, g.y)


def population() -> np.ndarray:
    """Persons per cell, shape (NROWS, NCOLS): a city, a town and a rural background."""
    g = grid()
    area_km2 = DX * DY / 1e6
    dens = np.full(g.x.shape, RURAL_DENSITY_KM2)
    for (lat, lon), total, core_km, sub_km in (
        (CITY_LATLON, CITY_POPULATION, 7.0, 20.0),
        (TOWN_LATLON, TOWN_POPULATION, 3.0, 6.0),
    ):
        cx, cy = _xy_km(lat, lon)
        r2 = ((g.x - cx) ** 2 + (g.y - cy) ** 2) / 1e6  # km^2
        # 45 % in a dense core, 55 % in a wider suburban ring (both Gaussian; totals per km^2)
        core = 0.45 * total / (2 * np.pi * core_km**2) * np.exp(-r2 / (2 * core_km**2))
        sub = 0.55 * total / (2 * np.pi * sub_km**2) * np.exp(-r2 / (2 * sub_km**2))
        dens += core + sub
    return dens * area_km2


def population_density_km2() -> np.ndarray:
    """Persons per km^2, shape (NROWS, NCOLS)."""
    return population() / (DX * DY / 1e6)


@dataclass(frozen=True)
class LandCover:
    """Land-cover fractions: ``fractions[k]`` is the share of each cell covered by ``names[k]``."""

    names: tuple[str, ...]
    fractions: np.ndarray  # (ncat, NROWS, NCOLS), sums to 1 over axis 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fractions[self.names.index(name)]


def landcover() -> LandCover:
    """Land-cover fractions from elevation, population and a lake; categories LANDCOVER_CATEGORIES."""
    g = grid()
    h = terrain()
    dens = population_density_km2()
    urban = np.clip(np.log10(np.maximum(dens, 1.0)) / 3.7 - 0.35, 0.0, 0.95)
    # a reservoir south-east of the city
    lx, ly = _xy_km(39.56, -104.85)
    water = 0.8 * np.exp(-(((g.x - lx) ** 2 + (g.y - ly) ** 2) / (2 * 3000.0**2)))
    water = np.where(water < 0.02, 0.0, water)
    # forest above 2000 m: deciduous (aspen, oak) in the foothills, conifers higher up
    forest = np.clip((h - 1900.0) / 600.0, 0.0, 0.85)
    conifer_share = np.clip((h - 2300.0) / 600.0, 0.15, 0.9)
    rest = np.clip(1.0 - urban - water, 0.0, 1.0)
    forest = np.minimum(forest, rest)
    conif = forest * conifer_share
    decid = forest - conif
    open_land = rest - forest
    # east of the city the plains are farmed; toward the foothills it is grassland
    crop_share = np.clip(0.5 + g.x / 120_000.0, 0.1, 0.8)
    crop = open_land * crop_share
    grass = open_land - crop
    fr = np.stack([urban, crop, grass, decid, conif, water])
    fr = fr / fr.sum(axis=0, keepdims=True)
    return LandCover(names=LANDCOVER_CATEGORIES, fractions=fr)


# Zones of the area inventory, by population density (persons per km^2), first match wins.
ZONE_NAMES = ("urban_core", "suburban", "rural")
ZONE_MIN_DENSITY_KM2 = (1500.0, 150.0, 0.0)


def zones() -> np.ndarray:
    """Zone index per cell (0 = urban_core, 1 = suburban, 2 = rural), shape (NROWS, NCOLS)."""
    dens = population_density_km2()
    z = np.full(dens.shape, len(ZONE_NAMES) - 1, dtype=np.int32)
    for k in range(len(ZONE_NAMES) - 2, -1, -1):
        z = np.where(dens >= ZONE_MIN_DENSITY_KM2[k], k, z)
    return z


# Highways as straight segments between (lat, lon) points; width of the road-density kernel.
HIGHWAYS = (
    ((39.10, -104.87), (40.90, -104.98)),  # north-south interstate through the city
    ((39.70, -105.80), (39.78, -104.15)),  # east-west interstate through the valley and the city
    ((39.75, -105.00), (40.02, -105.27)),  # city-town turnpike
)
ROAD_WIDTH_M = 1500.0


def road_density() -> np.ndarray:
    """Road-traffic surrogate (arbitrary units, >= 0), shape (NROWS, NCOLS): highways plus city streets."""
    g = grid()
    roads = np.zeros(g.x.shape)
    for (la0, lo0), (la1, lo1) in HIGHWAYS:
        x0, y0 = _xy_km(la0, lo0)
        x1, y1 = _xy_km(la1, lo1)
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((g.x - x0) * dx + (g.y - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
        d2 = (g.x - x0 - t * dx) ** 2 + (g.y - y0 - t * dy) ** 2
        roads += np.exp(-d2 / (2 * ROAD_WIDTH_M**2))
    streets = np.sqrt(population_density_km2()) / np.sqrt(5000.0)
    return roads + streets


def roughness_length() -> np.ndarray:
    """Aerodynamic roughness z0 (m) as the land-cover-weighted log mean of typical category values."""
    z0_cat = {
        "urban": 0.8,
        "cropland": 0.1,
        "grassland": 0.05,
        "deciduous_forest": 0.8,
        "coniferous_forest": 1.0,
        "water": 0.0002,
    }
    lc = landcover()
    logz = sum(lc[name] * np.log(z0) for name, z0 in z0_cat.items())
    return np.exp(logz)


def albedo() -> np.ndarray:
    """Surface shortwave albedo from land cover (typical category values)."""
    alb_cat = {
        "urban": 0.15,
        "cropland": 0.20,
        "grassland": 0.22,
        "deciduous_forest": 0.15,
        "coniferous_forest": 0.10,
        "water": 0.07,
    }
    lc = landcover()
    return np.asarray(sum(lc[name] * a for name, a in alb_cat.items()))
