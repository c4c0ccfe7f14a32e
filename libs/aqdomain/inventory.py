"""Point-source and area/mobile inventories with temporal and speciation profiles.

Files (committed, small): data/point_sources.csv, data/area_inventory.yaml, data/profiles.yaml.
Annual emissions are metric tonnes per year; NOX as NO2-equivalent mass, VOC as total VOC mass.
The helpers turn them into hourly moles per second of the model species NO, NO2 and ROC (moles C).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .domain import LOCAL_UTC_OFFSET_H, cell_of, ll_to_xy
from .surface import ZONE_NAMES, population, road_density, zones

DATA_DIR = Path(__file__).resolve().parent / "data"
SECONDS_PER_YEAR = 8760.0 * 3600.0
GRAMS_PER_TONNE = 1.0e6


@dataclass(frozen=True)
class PointSource:
    id: int
    name: str
    lat: float
    lon: float
    x: float  # projection m
    y: float
    row: int
    col: int
    stack_height_m: float
    stack_diameter_m: float
    exit_velocity_m_s: float
    exit_temperature_k: float
    nox_t_yr: float
    voc_t_yr: float
    temporal: str  # a profile name in profiles.yaml "temporal"
    nox_speciation: str  # a profile name in profiles.yaml "speciation"
    voc_speciation: str


def point_sources(path: Path | None = None) -> list[PointSource]:
    """The point-source inventory (default: the committed data/point_sources.csv)."""
    path = path or DATA_DIR / "point_sources.csv"
    out: list[PointSource] = []
    with path.open(newline="") as fh:
        for rec in csv.DictReader(fh):
            lat, lon = float(rec["lat"]), float(rec["lon"])
            x, y = ll_to_xy(lat, lon)
            row, col = cell_of(lat, lon)
            out.append(
                PointSource(
                    id=int(rec["id"]),
                    name=rec["name"],
                    lat=lat,
                    lon=lon,
                    x=float(x),
                    y=float(y),
                    row=row,
                    col=col,
                    stack_height_m=float(rec["stack_height_m"]),
                    stack_diameter_m=float(rec["stack_diameter_m"]),
                    exit_velocity_m_s=float(rec["exit_velocity_m_s"]),
                    exit_temperature_k=float(rec["exit_temperature_k"]),
                    nox_t_yr=float(rec["nox_t_yr"]),
                    voc_t_yr=float(rec["voc_t_yr"]),
                    temporal=rec["temporal"],
                    nox_speciation=rec["nox_speciation"],
                    voc_speciation=rec["voc_speciation"],
                )
            )
    return out


@lru_cache(maxsize=4)
def _yaml(name: str) -> dict[str, Any]:
    with (DATA_DIR / name).open() as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict)
    return data


def profiles() -> dict[str, Any]:
    """The parsed profiles.yaml: {"temporal": {...}, "speciation": {...}}."""
    return _yaml("profiles.yaml")


def area_inventory() -> dict[str, Any]:
    """The parsed area_inventory.yaml: units, sectors, emissions[zone][sector][NOX|VOC] (t/yr)."""
    return _yaml("area_inventory.yaml")


def temporal_factor(profile: str, when_utc: dt.datetime) -> float:
    """Monthly x weekly x diurnal factor (each normalised to mean 1) for an hour starting at ``when_utc``.

    The profiles are in local standard time (UTC-7); the hourly emission is annual / 8760 x this factor.
    """
    prof = profiles()["temporal"][profile]
    local = when_utc + dt.timedelta(hours=LOCAL_UTC_OFFSET_H)
    diurnal = np.asarray(prof["diurnal"], dtype=np.float64)
    weekly = np.asarray(prof["weekly"], dtype=np.float64)
    monthly = np.asarray(prof["monthly"], dtype=np.float64)
    return float(
        diurnal[local.hour]
        / diurnal.mean()
        * weekly[local.weekday()]
        / weekly.mean()
        * monthly[local.month - 1]
        / monthly.mean()
    )


def speciation_factors(profile: str) -> dict[str, float]:
    """Moles of model species per gram of inventory pollutant, e.g. {"NO": .., "NO2": ..} or {"ROC": ..}."""
    prof = dict(profiles()["speciation"][profile])
    if "molar_mass_g_mol" in prof:
        mm = float(prof.pop("molar_mass_g_mol"))
        return {k: float(v) / mm for k, v in prof.items()}
    gpc = float(prof.pop("grams_per_mole_carbon"))
    return {k: float(v) / gpc for k, v in prof.items()}


def annual_to_moles_per_s(tonnes_per_year: np.ndarray | float, profile: str) -> dict[str, np.ndarray]:
    """Annual tonnes of one pollutant to mean moles/s of each model species of a speciation profile."""
    grams_per_s = np.asarray(tonnes_per_year, dtype=np.float64) * GRAMS_PER_TONNE / SECONDS_PER_YEAR
    return {sp: grams_per_s * f for sp, f in speciation_factors(profile).items()}


def surrogate(name: str) -> np.ndarray:
    """Spatial surrogate weights (>= 0), shape (NROWS, NCOLS): "population", "roads" or "land"."""
    if name == "population":
        return population()
    if name == "roads":
        return road_density()
    if name == "land":
        return np.ones_like(population())
    raise ValueError(f"unknown surrogate {name!r}: use population, roads or land")


def area_annual_grid(sector: str, pollutant: str) -> np.ndarray:
    """Annual emissions (t/yr) of one sector and pollutant ("NOX" or "VOC") per cell, shape (NROWS, NCOLS).

    Each zone's total is spread over the zone's cells in proportion to the sector's surrogate, so the
    grid total equals the inventory total.
    """
    inv = area_inventory()
    weights = surrogate(inv["sectors"][sector]["surrogate"])
    zmap = zones()
    out = np.zeros(weights.shape)
    for k, zone in enumerate(ZONE_NAMES):
        total = float(inv["emissions"][zone][sector][pollutant])
        mask = zmap == k
        wsum = float(weights[mask].sum())
        if total > 0.0 and wsum > 0.0:
            out[mask] = total * weights[mask] / wsum
    return out


def area_sectors() -> list[str]:
    """Sector names of the area inventory, in file order."""
    return list(area_inventory()["sectors"])
