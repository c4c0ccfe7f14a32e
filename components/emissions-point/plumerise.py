"""Briggs final plume rise as in the ISC3 model, Pasquill-Gifford stability and layer allocation.

Formulas: EPA (1995) ISC3 User's Guide Vol. II (EPA-454/B-95-003b) section 1.1.4, following Briggs
(1969, 1971, 1972, 1975); see /work/shared/science.md section 3a. Stability classes are indexed
0..5 for A..F throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

G = 9.80665  # m s-2
CLASS_NAMES = "ABCDEF"
STABLE_DTHETA_DZ = {4: 0.020, 5: 0.035}  # K m-1, ISC3 defaults for classes E and F
# ISC3 rural wind-profile exponents for A..F (u(z) = u_ref (z / z_ref)^p).
RURAL_WIND_EXPONENT = (0.07, 0.07, 0.10, 0.15, 0.35, 0.55)
MIN_WIND = 1.0  # m s-1: ISC3 treats reference winds below 1 m/s as 1 m/s
WIND_REF_HEIGHT = 10.0  # m, height of WRF's U10/V10


@dataclass(frozen=True)
class Stack:
    """Stack parameters: height h (m), inner diameter d (m), exit velocity v (m s-1), exit temperature (K)."""

    height: float
    diameter: float
    velocity: float
    temperature: float


@dataclass(frozen=True)
class PlumeRise:
    rise: float  # m, final rise above the (downwash-corrected) release height
    release_height: float  # m, stack height after stack-tip downwash
    distance_to_final: float  # m, x_f (0 for momentum-dominated plumes)
    buoyant: bool  # True when buoyancy dominates

    @property
    def centreline(self) -> float:
        return self.release_height + self.rise


def buoyancy_flux(stack: Stack, ambient_temp: float) -> float:
    """F_b = g v d^2 (Ts - Ta) / (4 Ts) in m4 s-3; 0 for a plume no warmer than the air."""
    dt = max(stack.temperature - ambient_temp, 0.0)
    return G * stack.velocity * stack.diameter**2 * dt / (4.0 * stack.temperature)


def momentum_flux(stack: Stack, ambient_temp: float) -> float:
    """F_m = v^2 d^2 Ta / (4 Ts) in m4 s-2."""
    return stack.velocity**2 * stack.diameter**2 * ambient_temp / (4.0 * stack.temperature)


def stability_parameter(ambient_temp: float, stability: int) -> float:
    """s = (g / Ta) dtheta/dz (s-2) for the stable classes E and F."""
    return G / ambient_temp * STABLE_DTHETA_DZ[stability]


def stack_tip_downwash(stack: Stack, wind: float) -> float:
    """Briggs (1974): h' = h + 2 d (v / u - 1.5) when v < 1.5 u, else h (never below 0)."""
    if stack.velocity < 1.5 * wind:
        return max(stack.height + 2.0 * stack.diameter * (stack.velocity / wind - 1.5), 0.0)
    return stack.height


def final_rise(stack: Stack, ambient_temp: float, wind: float, stability: int) -> PlumeRise:
    """ISC3 final plume rise for stack-top wind ``wind`` (m s-1) and PG class ``stability`` (0..5)."""
    if wind <= 0.0:
        raise ValueError(f"stack-top wind speed must be positive, got {wind}")
    h_release = stack_tip_downwash(stack, wind)
    fb = buoyancy_flux(stack, ambient_temp)
    fm = momentum_flux(stack, ambient_temp)
    dt = stack.temperature - ambient_temp
    momentum_neutral = 3.0 * stack.diameter * stack.velocity / wind
    if stability <= 3:
        if fb < 55.0:
            dt_cross = 0.0297 * stack.temperature * stack.velocity ** (1 / 3) / stack.diameter ** (2 / 3)
        else:
            dt_cross = 0.00575 * stack.temperature * stack.velocity ** (2 / 3) / stack.diameter ** (1 / 3)
        if fb > 0.0 and dt >= dt_cross:
            if fb < 55.0:
                rise, xf = 21.425 * fb**0.75 / wind, 49.0 * fb**0.625
            else:
                rise, xf = 38.71 * fb**0.6 / wind, 119.0 * fb**0.4
            return PlumeRise(rise, h_release, xf, True)
        return PlumeRise(momentum_neutral, h_release, 0.0, False)
    s = stability_parameter(ambient_temp, stability)
    dt_cross = 0.019582 * stack.temperature * stack.velocity * math.sqrt(s)
    if fb > 0.0 and dt >= dt_cross:
        return PlumeRise(2.6 * (fb / (wind * s)) ** (1 / 3), h_release, 2.0715 * wind / math.sqrt(s), True)
    rise = min(1.5 * (fm / (wind * math.sqrt(s))) ** (1 / 3), momentum_neutral)
    return PlumeRise(rise, h_release, 0.0, False)


def stack_top_wind(wind10: float, stack_height: float, stability: int) -> float:
    """Power-law wind at the stack top from the 10 m wind (ISC3 rural exponents), at least 1 m/s at 10 m."""
    u10 = max(wind10, MIN_WIND)
    height = max(stack_height, WIND_REF_HEIGHT)
    return float(u10 * (height / WIND_REF_HEIGHT) ** RURAL_WIND_EXPONENT[stability])


def pasquill_class(wind10: float, swdown: float) -> int:
    """Pasquill-Gifford class (0..5 = A..F) from the 10 m wind and the surface shortwave (Turner 1964 table).

    Day (SWDOWN > 0): incoming solar radiation strong (> 600 W m-2), moderate (300-600) or slight (< 300);
    Turner's intermediate classes (A-B, B-C, C-D) are resolved to the more stable of the two.
    Night: the clear-sky column (<= 3/8 cloud), since the met fields carry no cloud cover.
    """
    if swdown > 0.0:
        column = 0 if swdown > 600.0 else (1 if swdown >= 300.0 else 2)
        table = (  # rows: wind < 2, 2-3, 3-5, 5-6, >= 6 m/s; columns: strong, moderate, slight
            (0, 1, 1),  # A, A-B, B
            (1, 1, 2),  # A-B, B, C
            (1, 2, 2),  # B, B-C, C
            (2, 3, 3),  # C, C-D, D
            (2, 3, 3),  # C, D, D
        )
        return table[_wind_row(wind10)][column]
    night = (5, 5, 4, 3, 3)  # F (calm, clear), F, E, D, D
    return night[_wind_row(wind10)]


def _wind_row(wind10: float) -> int:
    for row, limit in enumerate((2.0, 3.0, 5.0, 6.0)):
        if wind10 < limit:
            return row
    return 4


def plume_extent(rise: PlumeRise) -> tuple[float, float]:
    """Plume bottom and top (m AGL): centreline +- half the rise (as SMOKE: h + 0.5 dh to h + 1.5 dh)."""
    return rise.release_height + 0.5 * rise.rise, rise.release_height + 1.5 * rise.rise


def layer_fractions(bottom: float, top: float, interfaces: NDArray[np.float64]) -> NDArray[np.float64]:
    """Fraction of a uniformly mixed plume between ``bottom`` and ``top`` that falls in each layer.

    ``interfaces`` are the layer interface heights (m AGL, length nlay + 1, increasing). The part of the plume
    above the model top is put in the top layer and anything below the ground in layer 1, so the fractions
    always sum to 1 (emissions are conserved). A plume of zero depth goes wholly to the layer holding it.
    """
    z = np.asarray(interfaces, dtype=np.float64)
    nlay = z.size - 1
    lo = min(max(bottom, z[0]), z[-1])
    hi = min(max(top, z[0]), z[-1])
    frac = np.zeros(nlay)
    if top <= bottom or hi <= lo:
        # zero-depth plume, or one wholly above the top / below the ground
        height = min(max(0.5 * (bottom + top), z[0]), z[-1])
        k = int(np.clip(np.searchsorted(z, height, side="right") - 1, 0, nlay - 1))
        frac[k] = 1.0
        return frac
    overlap = np.clip(np.minimum(z[1:], hi) - np.maximum(z[:-1], lo), 0.0, None)
    frac = overlap / (top - bottom)
    frac[-1] += max(top - z[-1], 0.0) / (top - bottom)
    frac[0] += max(z[0] - bottom, 0.0) / (top - bottom)
    return np.asarray(frac / frac.sum(), dtype=np.float64)
