"""Guenther et al. (1993) light and temperature activity factors for isoprene and monoterpenes.

Guenther, A.B., Zimmerman, P.R., Harley, P.C., Monson, R.K., Fall, R. (1993), J. Geophys. Res. 98(D7),
12609-12617, doi:10.1029/93JD00527. Constants as in the paper (and identically in EMEP MSC-W, GEOS-Chem,
WRF-Chem and CLM); see /work/shared/science.md section 2.

Isoprene: E = Es * C_L * C_T (Es at Ts = 303 K and PAR = 1000 umol m-2 s-1).
Monoterpenes: E = Es * exp(beta (T - Ts)), beta = 0.09 K-1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

ALPHA = 0.0027  # (umol m-2 s-1)-1
C_L1 = 1.066
C_T1 = 95_000.0  # J mol-1
C_T2 = 230_000.0  # J mol-1
T_S = 303.0  # K, standard temperature of the emission factors
T_M = 314.0  # K
R_GAS = 8.314  # J K-1 mol-1
BETA = 0.09  # K-1, monoterpene temperature coefficient (Guenther 1993 best estimate)

# Shortwave -> PAR: about 45 % of the global shortwave flux is photosynthetically active (400-700 nm),
# and PAR energy converts to photons at about 4.57 umol J-1 (McCree 1972). WRF's SWDOWN is the global
# downward shortwave at the ground, so PAR [umol m-2 s-1] ~= 0.45 * 4.57 * SWDOWN [W m-2] ~= 2.06 SWDOWN.
PAR_FRACTION = 0.45
PHOTONS_PER_JOULE = 4.57  # umol J-1

MW_ISOPRENE = 68.12  # g mol-1, C5H8
MW_MONOTERPENE = 136.23  # g mol-1, C10H16


def par_from_swdown(swdown: ArrayLike) -> NDArray[np.float64]:
    """PAR (umol photons m-2 s-1) from downward shortwave at the surface (W m-2); negatives clipped to 0."""
    sw = np.clip(np.asarray(swdown, dtype=np.float64), 0.0, None)
    return PAR_FRACTION * PHOTONS_PER_JOULE * sw


def light_factor(par: ArrayLike) -> NDArray[np.float64]:
    """C_L = alpha C_L1 L / sqrt(1 + alpha^2 L^2); 0 in the dark, -> 1.066 at saturating light."""
    light = np.clip(np.asarray(par, dtype=np.float64), 0.0, None)
    return np.asarray(ALPHA * C_L1 * light / np.sqrt(1.0 + (ALPHA * light) ** 2), dtype=np.float64)


def temperature_factor(temp_k: ArrayLike) -> NDArray[np.float64]:
    """Isoprene C_T (1993 form, no C_T3): enzyme activation over denaturation, optimum near 314 K."""
    t = np.asarray(temp_k, dtype=np.float64)
    activation = np.exp(C_T1 * (t - T_S) / (R_GAS * T_S * t))
    denaturation = 1.0 + np.exp(C_T2 * (t - T_M) / (R_GAS * T_S * t))
    return np.asarray(activation / denaturation, dtype=np.float64)


def monoterpene_factor(temp_k: ArrayLike) -> NDArray[np.float64]:
    """exp(beta (T - Ts)): the monoterpene emission relative to its 303 K emission factor."""
    t = np.asarray(temp_k, dtype=np.float64)
    return np.asarray(np.exp(BETA * (t - T_S)), dtype=np.float64)


def flux_to_mol_per_s(flux_ug_m2_h: ArrayLike, cell_area_m2: float, molar_mass: float) -> NDArray[np.float64]:
    """mol s-1 per cell = E [ug m-2 h-1] * A [m2] / (MW [g mol-1] * 1e6 [ug g-1] * 3600 [s h-1])."""
    flux = np.asarray(flux_ug_m2_h, dtype=np.float64)
    return flux * cell_area_m2 / (molar_mass * 1.0e6 * 3600.0)
