"""WRF's vertical structure: eta levels to a 5000 Pa top, the base state, hydrostatic columns, clouds.

Coordinate (Skamarock et al. 2019, NCAR/TN-556+STR, the ARW terrain-following hydrostatic-pressure
coordinate with HYBRID_OPT = 0): eta = (p_h - P_TOP) / mu with mu = p_surface - P_TOP, so the full
(w) levels are p = ZNW mu + P_TOP and the half (mass) levels p = ZNU mu + P_TOP, ZNU the mean of the two
ZNW around it. mu is split like WRF's into the base state MUB and the perturbation MU. Simplification:
mu is the whole column (moist air); WRF's mu is the dry-air column, about 1 % smaller in summer.

Base state (WRF v4 defaults: P00 = 1e5 Pa, T00 = 290 K, TLP = 50 K, TISO = 200 K) [recall]: a
temperature T_b = max(TISO, T00 + TLP ln(p / P00)), hydrostatic, whose surface pressure over terrain
z_s is p_bs = P00 exp(-T00/TLP + sqrt((T00/TLP)^2 - 2 g z_s / (TLP R_d))). PB is the base-state pressure
on the half levels, PHB the base-state geopotential on the full levels (the integral of R_d T_b dln p
from the ground, in closed form), MUB = p_bs - P_TOP.

Actual state: the column is integrated upwards level by level with the hypsometric equation,
dz = R_d T_v / g dln p, the temperature and humidity at each layer's mid-height taken from the
interpolated coarse profiles (two fixed-point iterations per layer, since the height depends on the
temperature). P = p - PB on the half levels, PH = g z - PHB on the full levels.

Clouds (the coarse CLDFRA, a total cloud fraction c, made three-dimensional): where c > 0.2 a cloud layer
sits from the lifting condensation level z_lcl = 125 m K-1 (T2 - Td2) (Lawrence 2005) [recall] up
3000 m s with s = min((c - 0.2) / 0.6, 1); its condensate is 0.6 g/kg x s x sin(pi
(z - base) / depth), liquid (QCLOUD) above 273.15 K, ice (QICE) below 253.15 K, linearly shared in
between, and its air is saturated (QVAPOR = saturation over liquid water). No precipitation is made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from aqdomain import domain

# WRF's physical constants (share/module_model_constants.F)
GRAVITY = 9.81
R_D = 287.0
CP = 7.0 * R_D / 2.0  # 1004.5
P1000 = 1.0e5  # Pa, reference pressure of potential temperature
T0 = 300.0  # K, T = theta - T0
# WRF v4 base state (namelist base_temp, base_lapse, iso_temp; p00)
P00 = 1.0e5
T00 = 290.0
TLP = 50.0
TISO = 200.0
P_TOP = domain.P_TOP_PA

CLOUD_THRESHOLD = 0.2
CLOUD_FULL = 0.8  # cloud fraction of the deepest, wettest cloud layer
CLOUD_MAX_DEPTH_M = 3000.0
CLOUD_MAX_CONDENSATE = 0.6e-3  # kg kg-1
LCL_M_PER_K = 125.0
LIQUID_T = 273.15
ICE_T = 253.15
HUMIDITY_SCALE_M = 2500.0  # QVAPOR = Q2 exp(-z / 2500 m), capped at saturation


def eta_levels() -> tuple[np.ndarray, np.ndarray]:
    """ZNW (full levels, 1 -> 0) and ZNU (half levels, their means)."""
    znw = np.array(domain.WRF_ETA_LEVELS, dtype=np.float64)
    return znw, 0.5 * (znw[1:] + znw[:-1])


def saturation_vapour_pressure(t: np.ndarray) -> np.ndarray:
    """Over liquid water (Pa), Bolton (1980)."""
    return np.asarray(611.2 * np.exp(17.67 * (t - 273.15) / (t - 29.65)))


def saturation_mixing_ratio(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    es = np.minimum(saturation_vapour_pressure(t), 0.5 * p)
    return np.asarray(0.622 * es / (p - es))


def dewpoint(q: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Dew point (K) of mixing ratio q at pressure p (inverse of Bolton's formula)."""
    e = np.maximum(q * p / (0.622 + q), 1.0e-3)
    x = np.log(e / 611.2)
    return np.asarray(273.15 + 243.5 * x / (17.67 - x))


@dataclass(frozen=True)
class BaseState:
    mub: np.ndarray  # (ny, nx) Pa
    pb: np.ndarray  # (nz, ny, nx) Pa on half levels
    phb: np.ndarray  # (nw, ny, nx) m2 s-2 on full levels


def _base_geopotential_above_surface(p: np.ndarray, p_surface: np.ndarray) -> np.ndarray:
    """Integral of R_d T_b dln p from p up to p_surface (m2 s-2), T_b = max(TISO, T00 + TLP ln(p/P00))."""
    p_iso = P00 * np.exp((TISO - T00) / TLP)

    def sloped(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:  # pressures hi >= lo, both >= p_iso
        a, b = np.log(hi / P00), np.log(lo / P00)
        return np.asarray(R_D * (T00 * (a - b) + 0.5 * TLP * (a * a - b * b)))

    upper = np.maximum(p, p_iso)
    part = sloped(upper, p_surface)
    return np.asarray(part + R_D * TISO * np.log(upper / p))


def base_state(hgt: np.ndarray) -> BaseState:
    znw, znu = eta_levels()
    ratio = T00 / TLP
    p_surface = P00 * np.exp(-ratio + np.sqrt(ratio * ratio - 2.0 * GRAVITY * hgt / (TLP * R_D)))
    mub = p_surface - P_TOP
    pb = znu[:, None, None] * mub[None] + P_TOP
    p_full = znw[:, None, None] * mub[None] + P_TOP
    phb = GRAVITY * hgt[None] + _base_geopotential_above_surface(p_full, p_surface[None])
    return BaseState(mub=mub, pb=pb, phb=phb)


class ProfileInterpolator:
    """Linear interpolation in height above ground of fields on fixed levels, column by column.

    ``levels`` (nlev,) m above ground, ascending; ``fields`` (nlev, *S); heights z (..., *S).
    Constant beyond the end levels.
    """

    def __init__(self, levels: np.ndarray, fields: np.ndarray) -> None:
        self.levels = np.asarray(levels, dtype=np.float64)
        self.fields = np.asarray(fields, dtype=np.float64)

    def at(self, z: np.ndarray) -> np.ndarray:
        lev = self.levels
        zc = np.clip(z, lev[0], lev[-1])
        k = np.clip(np.searchsorted(lev, zc) - 1, 0, len(lev) - 2)
        w = (zc - lev[k]) / (lev[k + 1] - lev[k])
        idx = np.indices(self.fields.shape[1:], sparse=True)  # broadcast against any leading axes of z
        lo, hi = self.fields[(k, *idx)], self.fields[(k + 1, *idx)]
        return np.asarray((1.0 - w) * lo + w * hi)


@dataclass(frozen=True)
class Column:
    """The actual state on WRF's levels (heights above ground); S is the surface fields' shape."""

    p_full: np.ndarray  # (nw, *S) Pa
    p_half: np.ndarray  # (nz, *S) Pa
    z_full: np.ndarray  # (nw, *S) m above ground
    z_half: np.ndarray  # (nz, *S) m above ground
    temp: np.ndarray  # (nz, *S) K
    qv: np.ndarray  # (nz, *S) kg kg-1
    qc: np.ndarray  # (nz, *S) kg kg-1, cloud liquid water
    qi: np.ndarray  # (nz, *S) kg kg-1, cloud ice


def cloud_condensate(
    z: np.ndarray, temp: np.ndarray, cloud: np.ndarray, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(liquid, ice) mixing ratios at heights z (m above ground) of the cloud layer described above."""
    strength = np.clip((cloud - CLOUD_THRESHOLD) / (CLOUD_FULL - CLOUD_THRESHOLD), 0.0, 1.0)
    depth = CLOUD_MAX_DEPTH_M * strength
    inside = (strength > 0.0) & (z > base) & (z < base + depth)
    phase = np.where(inside, (z - base) / np.where(depth > 0.0, depth, 1.0), 0.0)
    total = np.where(inside, CLOUD_MAX_CONDENSATE * strength * np.sin(np.pi * phase), 0.0)
    liquid = np.clip((temp - ICE_T) / (LIQUID_T - ICE_T), 0.0, 1.0)
    return total * liquid, total * (1.0 - liquid)


def integrate_column(
    psfc: np.ndarray,
    t2: np.ndarray,
    q2: np.ndarray,
    cloud: np.ndarray,
    temperature_at: Callable[[np.ndarray], np.ndarray],
) -> Column:
    """Hydrostatic columns from the surface pressure up to P_TOP on WRF's eta levels.

    The surface fields share one shape S (e.g. (nt, ny, nx): every hour at once); ``temperature_at`` maps
    heights above ground shaped S to temperatures.
    """
    znw, znu = eta_levels()
    mu = psfc - P_TOP
    expand = (slice(None), *([None] * mu.ndim))
    p_full = znw[expand] * mu[None] + P_TOP
    p_half = znu[expand] * mu[None] + P_TOP
    nw, nz = len(znw), len(znu)
    shape = psfc.shape
    z_full = np.zeros((nw, *shape))
    z_half = np.zeros((nz, *shape))
    temp, qv = np.zeros((nz, *shape)), np.zeros((nz, *shape))
    qc, qi = np.zeros((nz, *shape)), np.zeros((nz, *shape))
    base = LCL_M_PER_K * np.maximum(t2 - dewpoint(q2, psfc), 0.0)
    for k in range(nz):
        t_k = temperature_at(z_full[k])
        zm = z_full[k]
        for _ in range(2):
            q_cap = saturation_mixing_ratio(t_k, p_half[k])
            liquid, ice = cloud_condensate(zm, t_k, cloud, base)
            q_k = np.where(liquid + ice > 0.0, q_cap, np.minimum(q2 * np.exp(-zm / HUMIDITY_SCALE_M), q_cap))
            tv = t_k * (1.0 + 0.608 * q_k)
            zm = z_full[k] + R_D * tv / GRAVITY * np.log(p_full[k] / p_half[k])
            t_k = temperature_at(zm)
        q_cap = saturation_mixing_ratio(t_k, p_half[k])
        liquid, ice = cloud_condensate(zm, t_k, cloud, base)
        q_k = np.where(liquid + ice > 0.0, q_cap, np.minimum(q2 * np.exp(-zm / HUMIDITY_SCALE_M), q_cap))
        tv = t_k * (1.0 + 0.608 * q_k)
        z_half[k] = z_full[k] + R_D * tv / GRAVITY * np.log(p_full[k] / p_half[k])
        z_full[k + 1] = z_full[k] + R_D * tv / GRAVITY * np.log(p_full[k] / p_full[k + 1])
        temp[k], qv[k], qc[k], qi[k] = t_k, q_k, liquid, ice
    return Column(p_full, p_half, z_full, z_half, temp, qv, qc, qi)


def potential_temperature(temp: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.asarray(temp * (P1000 / p) ** (R_D / CP))
