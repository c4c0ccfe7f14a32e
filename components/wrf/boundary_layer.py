"""Surface radiation, surface fluxes and boundary-layer height (compact diagnostic formulas).

- SWDOWN: top-of-atmosphere flux S0 (r0/r)^2 cos(Z) (NOAA solar position from aqdomain.solar) times the
  bulk transmissivity of Burridge & Gadd (1977), as given by Stull (1988, eq. 7.3.1b):
  T = (0.6 + 0.2 cos Z)(1 - 0.4 sigma_low) (all cloud treated as low cloud) [recall].
- Sensible heat flux: a fixed share of the available energy, H = 0.36 Rn with
  Rn = (1 - albedo) SWDOWN - 90 W m-2 (net long-wave loss); 0.36 = 0.4 (1 - G/Rn) with ground heat
  G = 0.1 Rn (Holtslag & van Ulden 1983, simplified).
- Friction velocity: neutral log law u* = kappa U(z) / ln(z / z0).
- PBL height: by day the encroachment (zero-order jump) model of the convective mixed layer
  (Tennekes 1973; Batchvarova & Gryning 1991 without the mechanical term):
  h^2 = h_s^2 + 2 (1 + 2A) / gamma_theta * integral of H / (rho cp) dt from local midnight, A = 0.2,
  gamma_theta = 0.005 K m-1, growing from a residual nocturnal layer h_0 = 150 m; where H <= 0 the stable
  height of Zilitinkevich (1972), h_s = 0.4 sqrt(u* L / |f|) with the Obukhov length L (|H| >= 10 W m-2
  so that L stays finite in the transitions), limited to 50..800 m.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
from aqdomain import solar

VON_KARMAN = 0.4
GRAVITY = 9.81
R_DRY = 287.04
CP_DRY = 1004.5
OMEGA_EARTH = 7.292e-5
NET_LONGWAVE_W_M2 = 90.0
SENSIBLE_SHARE = 0.36
ENTRAINMENT_A = 0.2
GAMMA_THETA = 0.005  # K m-1 above the mixed layer
STABLE_MIN_M, STABLE_MAX_M = 50.0, 800.0
NOCTURNAL_START_M = 150.0  # mixed-layer growth starts from this height after sunrise
MIN_STABLE_HEAT_W_M2 = 10.0
PBL_MAX_M = 4000.0


def swdown(when: dt.datetime, lat: np.ndarray, lon: np.ndarray, cloud: np.ndarray) -> np.ndarray:
    """Downward short-wave flux at the ground (W m-2) at a UTC instant."""
    doy = when.timetuple().tm_yday
    cosz = solar.cos_zenith_utc(when, lat, lon)
    s0 = solar.SOLAR_CONSTANT_W_M2 * solar.earth_sun_distance_factor(doy)
    trans = (0.6 + 0.2 * cosz) * (1.0 - 0.4 * np.clip(cloud, 0.0, 1.0))
    return np.asarray(s0 * cosz * trans)


def sensible_heat_flux(sw: np.ndarray, albedo: np.ndarray) -> np.ndarray:
    """H (W m-2, positive upward) from the available energy."""
    return SENSIBLE_SHARE * ((1.0 - albedo) * sw - NET_LONGWAVE_W_M2)


def friction_velocity(speed: np.ndarray, z: float, z0: np.ndarray) -> np.ndarray:
    """Neutral log-law u* (m s-1) from the wind speed at height z (m)."""
    return np.maximum(VON_KARMAN * speed / np.log(z / z0), 0.05)


def stable_height(
    ustar: np.ndarray, hfx: np.ndarray, t2: np.ndarray, rho: np.ndarray, lat: np.ndarray
) -> np.ndarray:
    """Zilitinkevich (1972) stable boundary-layer height (m)."""
    f = 2.0 * OMEGA_EARTH * np.sin(np.radians(lat))
    heat = np.minimum(hfx, -MIN_STABLE_HEAT_W_M2)  # stable branch only; keeps L finite
    obukhov = -rho * CP_DRY * t2 * ustar**3 / (VON_KARMAN * GRAVITY * heat)
    return np.clip(0.4 * np.sqrt(ustar * obukhov / np.abs(f)), STABLE_MIN_M, STABLE_MAX_M)


def convective_height(heat_integral: np.ndarray) -> np.ndarray:
    """Encroachment mixed-layer height (m); heat_integral = integral of H / (rho cp) dt (K m)."""
    h2 = NOCTURNAL_START_M**2 + 2.0 * (1.0 + 2.0 * ENTRAINMENT_A) / GAMMA_THETA * heat_integral
    return np.minimum(np.sqrt(h2), PBL_MAX_M)


class HeatIntegral:
    """Integral of max(H, 0) dt (J m-2) from local midnight, advanced incrementally through a day.

    Trapezoids of ``substep_min`` minutes on the same radiation formula as SWDOWN; calls must come in
    increasing time (the hours of one run). Divide by rho cp to get the encroachment integral (K m).
    """

    def __init__(
        self,
        lat: np.ndarray,
        lon: np.ndarray,
        albedo: np.ndarray,
        cloud_at: Callable[[dt.datetime], np.ndarray],
        utc_offset_h: int,
        substep_min: int = 10,
    ) -> None:
        self.lat, self.lon, self.albedo, self.cloud_at = lat, lon, albedo, cloud_at
        self.offset = dt.timedelta(hours=utc_offset_h)
        self.step = dt.timedelta(minutes=substep_min)
        self.midnight: dt.datetime | None = None
        self.t = dt.datetime.min
        self.acc = np.zeros(lat.shape)
        self.prev = np.zeros(lat.shape)

    def _heat(self, when: dt.datetime) -> np.ndarray:
        sw = swdown(when, self.lat, self.lon, self.cloud_at(when))
        return np.maximum(sensible_heat_flux(sw, self.albedo), 0.0)

    def at(self, when: dt.datetime) -> np.ndarray:
        local = when + self.offset
        midnight = when - dt.timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)
        if midnight != self.midnight or when < self.t:
            self.midnight, self.t = midnight, midnight
            self.acc = np.zeros(self.lat.shape)
            self.prev = self._heat(midnight)
        while self.t + self.step <= when:
            self.t += self.step
            heat = self._heat(self.t)
            self.acc = self.acc + 0.5 * (self.prev + heat) * self.step.total_seconds()
            self.prev = heat
        return self.acc
