"""The Generic Reaction Set (GRS) photochemical mechanism, integrated for every cell at once.

Seven reactions (Azzi, Johnson & Cope 1992, as coded in HYSPLIT grseqn.f, EPA R-LINE and AERMOD GRS7):

    R1  ROC + hv -> RP + ROC      k1 = k3 * 0.0067 * exp(-4700 (1/T - 1/316))    (Azzi/AERMOD form)
    R2  RP + NO  -> NO2           k2 = 5482 exp(242/T)      ppm-1 min-1
    R3  NO2 + hv -> NO + O3       k3 = J(NO2)               s-1
    R4  NO + O3  -> NO2           k4 = 2643 exp(-1370/T)    ppm-1 min-1
    R5  RP + RP  -> RP            k5 = 10000                ppm-1 min-1 (HYSPLIT, R-LINE)
    R6  RP + NO2 -> SGN           k6 = 125                  ppm-1 min-1
    R7  RP + NO2 -> SNGN          k7 = 125                  ppm-1 min-1

Concentrations are mixing ratios in ppm (ROC in ppmC: the merged emissions carry ROC as moles of
carbon), time in seconds. ROC is catalytic, so chemistry leaves it unchanged.

Integration, per chemistry sub-step dt (all cells vectorised, no per-cell loop):

1. RP in quasi-steady state (as all three codes do): k5 RP^2 + b RP - k1 ROC = 0 with
   b = k2 NO + (k6 + k7) NO2, solved with the cancellation-free root 2 c / (b + sqrt(b^2 + 4 a c)).
2. The RP reactions with RP frozen: NO -> NO2 (R2) and NO2 -> SGN/SNGN (R6, R7) form a linear
   2-species chain solved exactly (exponentials), so no stiffness limit and no negative values.
3. The fast photostationary cycle R3/R4 conserves NOx = NO + NO2 and Ox = O3 + NO2; with x = NO2
   it is the Riccati equation dx/dt = k4 (NOx - x)(Ox - x) - J x, whose exact solution relaxes to the
   smaller root x1 of k4 x^2 - (k4 (NOx + Ox) + J) x + k4 NOx Ox = 0 (the Leighton state; with J = 0,
   full titration of the minority partner). It is solved in closed form, hence unconditionally stable,
   positive and exactly NOx/Ox conserving.

Strang splitting (half radical step, fast cycle, half radical step) per sub-step. Adaptive sub-steps
(one length for all cells) of at most ``CHEM_STEP_S`` and short enough that k2 RP h <=
``RADICAL_EXPONENT_MAX`` in every cell keep O3 within 1 % (NOx within 3 %) of a fine explicit RK4
reference with prognostic RP (see the tests). In the dark the fast cycle alone is exact for any step.
"""

from __future__ import annotations

import numpy as np

SPECIES = ("O3", "NO", "NO2", "ROC", "RP", "SGN", "SNGN")
I_O3, I_NO, I_NO2, I_ROC, I_RP, I_SGN, I_SNGN = range(len(SPECIES))
UNITS = {
    "O3": "ppmV",
    "NO": "ppmV",
    "NO2": "ppmV",
    "ROC": "ppmV",
    "RP": "ppmV",
    "SGN": "ppmV",
    "SNGN": "ppmV",
}
DESCRIPTIONS = {
    "O3": "ozone",
    "NO": "nitric oxide",
    "NO2": "nitrogen dioxide",
    "ROC": "reactive organic compounds (GRS lumped VOC, carbon-equivalent)",
    "RP": "GRS radical pool (quasi-steady state)",
    "SGN": "stable gaseous nitrogen products (nitric acid-like)",
    "SNGN": "stable non-gaseous nitrogen products (particulate nitrate-like)",
}

CHEM_STEP_S = 30.0  # longest chemistry sub-step (s)
CHEM_STEP_MIN_S = 2.0  # shortest sub-step (s): bounds the cost in extreme radical-rich, NOx-poor cells
RADICAL_EXPONENT_MAX = 0.1  # largest k2 RP h of a sub-step (the NO fraction converted by RP per sub-step)

_PER_MIN = 1.0 / 60.0
K5 = 10000.0 * _PER_MIN  # ppm-1 s-1
K6 = 125.0 * _PER_MIN
K7 = 125.0 * _PER_MIN
ROC_REACTIVITY = 0.0067  # Azzi et al. / AERMOD GRS7 reactivity coefficient of the lumped ROC
ROC_ACTIVATION_K = 4700.0  # K
ROC_REFERENCE_T = 316.0  # K

# MCM v3 photolysis parameters for NO2 (J4): J = l cos(chi)^m exp(-n sec(chi)), Saunders et al. (2003)
J_NO2_L = 1.165e-2  # s-1
J_NO2_M = 0.244
J_NO2_N = 0.267


def j_no2(cos_zenith: np.ndarray) -> np.ndarray:
    """Clear-sky J(NO2) (s-1) from cos(solar zenith angle); 0 when the sun is at or below the horizon."""
    cz = np.asarray(cos_zenith, dtype=np.float64)
    day = cz > 1.0e-3
    safe = np.where(day, cz, 1.0)
    return np.where(day, J_NO2_L * safe**J_NO2_M * np.exp(-J_NO2_N / safe), 0.0)


def k2(temp_k: np.ndarray) -> np.ndarray:
    """RP + NO -> NO2 (ppm-1 s-1)."""
    return 5482.0 * np.exp(242.0 / temp_k) * _PER_MIN


def k4(temp_k: np.ndarray) -> np.ndarray:
    """NO + O3 -> NO2 (ppm-1 s-1)."""
    return 2643.0 * np.exp(-1370.0 / temp_k) * _PER_MIN


def k1(j: np.ndarray, temp_k: np.ndarray) -> np.ndarray:
    """ROC + hv -> RP (s-1): the Azzi/AERMOD GRS7 form k3 * 0.0067 * exp(-4700 (1/T - 1/316))."""
    return j * ROC_REACTIVITY * np.exp(-ROC_ACTIVATION_K * (1.0 / temp_k - 1.0 / ROC_REFERENCE_T))


def radical_pool_qss(
    roc: np.ndarray, no: np.ndarray, no2: np.ndarray, k1v: np.ndarray, k2v: np.ndarray
) -> np.ndarray:
    """Quasi-steady-state RP (ppm): positive root of K5 RP^2 + b RP - k1 ROC = 0."""
    b = k2v * no + (K6 + K7) * no2
    c = k1v * roc
    disc = np.sqrt(b * b + 4.0 * K5 * c)
    den = b + disc
    return np.where(den > 0.0, 2.0 * c / np.where(den > 0.0, den, 1.0), 0.0)


def _phi1(x: np.ndarray) -> np.ndarray:
    """(1 - exp(-x)) / x, continuous at x = 0."""
    small = np.abs(x) < 1.0e-8
    return np.where(small, 1.0 - 0.5 * x, -np.expm1(-x) / np.where(small, 1.0, x))


def _exp_difference(ah: np.ndarray, bh: np.ndarray, ea: np.ndarray, eb: np.ndarray) -> np.ndarray:
    """(exp(-ah) - exp(-bh)) / (bh - ah), without overflow or cancellation."""
    diff = bh - ah
    close = np.abs(diff) < 1.0e-6
    return np.where(close, ea * (1.0 - 0.5 * diff), (ea - eb) / np.where(close, 1.0, diff))


def photostationary_no2(nox: np.ndarray, ox: np.ndarray, j: np.ndarray, k4v: np.ndarray) -> np.ndarray:
    """NO2 of the photostationary (Leighton) state that conserves NOx and Ox (the smaller root)."""
    big_b = nox + ox + j / k4v
    disc = np.sqrt(np.maximum(big_b * big_b - 4.0 * nox * ox, 0.0))
    den = big_b + disc
    return np.where(den > 0.0, 2.0 * nox * ox / np.where(den > 0.0, den, 1.0), 0.0)


def _fast_cycle(
    no: np.ndarray, no2: np.ndarray, o3: np.ndarray, j: np.ndarray, k4v: np.ndarray, dt: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact solution of NO2 <-> NO + O3 (R3, R4) over dt."""
    nox = no + no2
    ox = o3 + no2
    big_b = nox + ox + j / k4v
    d = np.sqrt(np.maximum(big_b * big_b - 4.0 * nox * ox, 0.0))  # x2 - x1
    den = big_b + d
    x1 = np.where(den > 0.0, 2.0 * nox * ox / np.where(den > 0.0, den, 1.0), 0.0)
    # y = x - x1 obeys dy/dt = k4 y (y - d): y(t) = y0 E / (1 - y0 g), E = exp(-k4 d t), g = (1 - E) / d
    kd_t = k4v * d * dt
    e = np.exp(-kd_t)
    g = k4v * dt * _phi1(kd_t)
    y0 = no2 - x1
    x = x1 + y0 * e / (1.0 - y0 * g)  # 1 - y0 g >= E > 0 because y0 <= d
    x = np.clip(x, 0.0, np.minimum(nox, ox))
    return nox - x, x, ox - x


def _radical_reactions(
    no: np.ndarray, no2: np.ndarray, rp: np.ndarray, k2v: np.ndarray, tau: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R2, R6, R7 with RP frozen: dNO/dt = -a NO, dNO2/dt = a NO - b NO2 (exact). Returns NO, NO2, N lost."""
    a = k2v * rp
    b = (K6 + K7) * rp
    ea = np.exp(-a * tau)
    eb = np.exp(-b * tau)
    no_new = no * ea
    no2_new = no2 * eb + a * no * tau * _exp_difference(a * tau, b * tau, ea, eb)
    lost = np.maximum((no + no2) - (no_new + no2_new), 0.0)
    return no_new, no2_new, lost


def step(conc: np.ndarray, j: np.ndarray, temp_k: np.ndarray, dt: float) -> int:
    """Advance ``conc`` (species first, shape (7, ...), ppm) by dt seconds in place; returns the sub-steps.

    ``j`` (s-1) and ``temp_k`` broadcast against conc[0]. Each sub-step (one length for all cells) is at
    most CHEM_STEP_S and short enough that k2 RP h <= RADICAL_EXPONENT_MAX in the fastest cell (but not
    shorter than CHEM_STEP_MIN_S; the exact sub-solutions stay positive and conservative for any step);
    in the dark with no radicals one exact step of the fast cycle covers dt.
    """
    k1v = k1(j, temp_k)
    k2v = k2(temp_k)
    k4v = k4(temp_k)
    roc = conc[I_ROC]
    no, no2, o3 = conc[I_NO].copy(), conc[I_NO2].copy(), conc[I_O3].copy()
    sgn, sngn = conc[I_SGN].copy(), conc[I_SNGN].copy()
    split6 = K6 / (K6 + K7)
    dark = not np.any(k1v * roc > 0.0)
    done = 0.0
    nsub = 0
    while done < dt * (1.0 - 1.0e-12):
        rp = radical_pool_qss(roc, no, no2, k1v, k2v)
        if dark:
            h = dt - done
        else:
            fastest = float(np.max(k2v * rp, initial=0.0))
            h = min(dt - done, CHEM_STEP_S, RADICAL_EXPONENT_MAX / fastest if fastest > 0.0 else dt)
            h = max(h, min(CHEM_STEP_MIN_S, dt - done))
        # Strang splitting: half radical step, exact fast cycle, half radical step
        no, no2, lost1 = _radical_reactions(no, no2, rp, k2v, 0.5 * h)
        no, no2, o3 = _fast_cycle(no, no2, o3, j, k4v, h)
        rp = radical_pool_qss(roc, no, no2, k1v, k2v)
        no, no2, lost2 = _radical_reactions(no, no2, rp, k2v, 0.5 * h)
        sgn += split6 * (lost1 + lost2)
        sngn += (1.0 - split6) * (lost1 + lost2)
        done += h
        nsub += 1
    conc[I_NO], conc[I_NO2], conc[I_O3] = no, no2, o3
    conc[I_SGN], conc[I_SNGN] = sgn, sngn
    conc[I_RP] = radical_pool_qss(roc, no, no2, k1v, k2v)
    return nsub
