"""NOAA solar position ("General Solar Position Calculations", NOAA Global Monitoring Laboratory).

Fractional year, equation of time and declination from the NOAA Fourier series; hour angle from
true solar time; zenith from the spherical-astronomy cosine formula. Accuracy about 0.1 deg in
zenith, enough for photolysis and surface radiation. Vectorised over numpy arrays.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np

SOLAR_CONSTANT_W_M2 = 1361.0  # total solar irradiance at 1 AU (Kopp & Lean 2011)
SUNRISE_ZENITH_DEG = 90.833  # refraction and the solar disc radius


@dataclass(frozen=True)
class SolarPosition:
    zenith_deg: np.ndarray
    azimuth_deg: np.ndarray  # clockwise from north
    declination_deg: np.ndarray
    eqtime_min: np.ndarray
    hour_angle_deg: np.ndarray


def fractional_year(doy: np.ndarray | int, hour: np.ndarray | float, days_in_year: int = 365) -> np.ndarray:
    """gamma (rad) = 2 pi / days_in_year * (doy - 1 + (hour - 12) / 24)."""
    return (
        2.0
        * np.pi
        / days_in_year
        * (np.asarray(doy, dtype=np.float64) - 1.0 + (np.asarray(hour) - 12.0) / 24.0)
    )


def equation_of_time(gamma: np.ndarray) -> np.ndarray:
    """Equation of time (minutes)."""
    return 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )


def declination(gamma: np.ndarray) -> np.ndarray:
    """Solar declination (radians)."""
    return (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma)
        + 0.00148 * np.sin(3 * gamma)
    )


def solar_position(
    doy: np.ndarray | int,
    hour: np.ndarray | float,
    lat: np.ndarray | float,
    lon: np.ndarray | float,
    timezone: float = 0.0,
    days_in_year: int = 365,
) -> SolarPosition:
    """Solar position for local clock time ``hour`` (decimal hours) in ``timezone`` (hours from UTC).

    ``lon`` is positive east. Example: doy 172, hour 12, timezone -7 (MST), 40 N, 105 W -> zenith 16.55 deg.
    """
    hour = np.asarray(hour, dtype=np.float64)
    lat_r = np.radians(np.asarray(lat, dtype=np.float64))
    gamma = fractional_year(doy, hour, days_in_year)
    eqt = equation_of_time(gamma)
    decl = declination(gamma)
    time_offset = eqt + 4.0 * np.asarray(lon, dtype=np.float64) - 60.0 * timezone
    tst = hour * 60.0 + time_offset
    ha = tst / 4.0 - 180.0
    cosz = np.sin(lat_r) * np.sin(decl) + np.cos(lat_r) * np.cos(decl) * np.cos(np.radians(ha))
    zen = np.arccos(np.clip(cosz, -1.0, 1.0))
    sinz = np.maximum(np.sin(zen), 1e-12)
    # azimuth clockwise from north (spherical astronomy): cos(az) = (sin decl - sin lat cos Z)/(cos lat sin Z)
    # for the morning sun. NOAA's document writes cos(180 - az) = -(sin lat cos Z - sin decl)/(cos lat sin Z);
    # read literally (az = 180 - arccos(...)) that gives the supplement: the noon sun due north.
    cos_az = (np.sin(decl) - np.sin(lat_r) * np.cos(zen)) / (np.cos(lat_r) * sinz)
    az = np.degrees(np.arccos(np.clip(cos_az, -1.0, 1.0)))
    # afternoon (positive hour angle): the sun is west of the meridian
    az = np.where(((ha + 180.0) % 360.0 - 180.0) > 0, 360.0 - az, az)
    return SolarPosition(
        zenith_deg=np.degrees(zen),
        azimuth_deg=az,
        declination_deg=np.degrees(decl),
        eqtime_min=eqt,
        hour_angle_deg=ha,
    )


def _doy_hour(when: dt.datetime) -> tuple[int, float, int]:
    doy = when.timetuple().tm_yday
    hour = when.hour + when.minute / 60.0 + when.second / 3600.0
    return doy, hour, 366 if calendar.isleap(when.year) else 365


def zenith_utc(when: dt.datetime, lat: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
    """Solar zenith angle (degrees) at a UTC time (naive datetime taken as UTC)."""
    doy, hour, ndays = _doy_hour(when)
    return solar_position(doy, hour, lat, lon, 0.0, ndays).zenith_deg


def cos_zenith_utc(when: dt.datetime, lat: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
    """cos(solar zenith), clipped at 0 when the sun is below the horizon."""
    return np.maximum(np.cos(np.radians(zenith_utc(when, lat, lon))), 0.0)


def earth_sun_distance_factor(doy: int | np.ndarray, days_in_year: int = 365) -> np.ndarray:
    """(r0 / r)^2, the eccentricity correction of the solar constant (Spencer 1971 series)."""
    g = 2.0 * np.pi * (np.asarray(doy, dtype=np.float64) - 1.0) / days_in_year
    return (
        1.000110
        + 0.034221 * np.cos(g)
        + 0.001280 * np.sin(g)
        + 0.000719 * np.cos(2 * g)
        + 0.000077 * np.sin(2 * g)
    )


def sunrise_sunset_utc(
    day: dt.date, lat: np.ndarray | float, lon: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Sunrise and sunset in minutes after 00:00 UTC of ``day`` (NOAA formula, zenith 90.833 deg).

    Polar day/night are not handled (the reference domain is at mid-latitude).
    """
    ndays = 366 if calendar.isleap(day.year) else 365
    doy = day.timetuple().tm_yday
    gamma = fractional_year(doy, 12.0, ndays)
    eqt = equation_of_time(gamma)
    decl = declination(gamma)
    lat_r = np.radians(np.asarray(lat, dtype=np.float64))
    cos_ha = np.cos(np.radians(SUNRISE_ZENITH_DEG)) / (np.cos(lat_r) * np.cos(decl)) - np.tan(lat_r) * np.tan(
        decl
    )
    ha = np.degrees(np.arccos(np.clip(cos_ha, -1.0, 1.0)))
    lon = np.asarray(lon, dtype=np.float64)
    return 720.0 - 4.0 * (lon + ha) - eqt, 720.0 - 4.0 * (lon - ha) - eqt
