"""GRS chemistry: rate constants, J(NO2), photostationary state, night titration, accuracy, conservation."""

from __future__ import annotations

import grs
import numpy as np
import pytest

# The published GRS rate coefficients, written here independently of grs.py (T in K). Source: Azzi,
# Johnson & Cope (1992) as coded in NOAA ARL HYSPLIT grseqn.f (GRATES), EPA R-LINE v1.6 and AERMOD GRS7,
# tabulated in /work/shared/science.md section 1; k1 in the Azzi/AERMOD GRS7 form. ppm-1 min-1 -> ppm-1 s-1.
PER_MIN = 1.0 / 60.0


def pub_k1(j: float, temp: float) -> float:
    return j * 0.0067 * np.exp(-4700.0 * (1.0 / temp - 1.0 / 316.0))  # s-1, k3 = J(NO2) in s-1


def pub_k2(temp: float) -> float:
    return 5482.0 * np.exp(242.0 / temp) * PER_MIN


def pub_k4(temp: float) -> float:
    return 2643.0 * np.exp(-1370.0 / temp) * PER_MIN


PUB_K5 = 10000.0 * PER_MIN  # HYSPLIT and R-LINE (AERMOD: 10200)
PUB_K6 = 125.0 * PER_MIN
PUB_K7 = 125.0 * PER_MIN


def _state(o3: float, no: float, no2: float, roc: float = 0.0, n: int = 1) -> np.ndarray:
    c = np.zeros((7, n))
    c[grs.I_O3], c[grs.I_NO], c[grs.I_NO2], c[grs.I_ROC] = o3, no, no2, roc
    return c


@pytest.mark.parametrize("temp", [270.0, 298.0, 315.0])
def test_rate_constants_match_the_published_values(temp: float) -> None:
    t = np.array(temp)
    assert float(grs.k2(t)) == pytest.approx(pub_k2(temp), rel=1e-12)
    assert float(grs.k4(t)) == pytest.approx(pub_k4(temp), rel=1e-12)
    assert float(grs.k1(np.array(8e-3), t)) == pytest.approx(pub_k1(8e-3, temp), rel=1e-12)
    np.testing.assert_allclose([grs.K5, grs.K6, grs.K7], [PUB_K5, PUB_K6, PUB_K7], rtol=1e-12)


def test_rate_constants_at_298k_match_the_science_md_check_values() -> None:
    t = np.array(298.0)
    assert float(grs.k4(t)) * 60 == pytest.approx(26.7, rel=0.01)  # science.md conversion check
    assert float(grs.k2(t)) * 60 == pytest.approx(12_349.0, rel=1e-3)  # 5482 e^(242/298)
    # Azzi/AERMOD k1 form: k1 / k3 = 0.0067 exp(-4700 (1/298 - 1/316)) = 2.75e-3
    assert float(grs.k1(np.array(1.0), t)) == pytest.approx(2.75e-3, rel=0.01)


def test_j_no2_follows_the_mcm_parameterisation_and_is_zero_at_night() -> None:
    sza = np.radians([0.0, 30.0, 60.0, 80.0, 90.0, 120.0])
    j = grs.j_no2(np.cos(sza))
    np.testing.assert_allclose(j[:4], [8.9e-3, 8.3e-3, 5.8e-3, 1.6e-3], rtol=0.03)
    assert j[4] == 0.0 and j[5] == 0.0


def test_chemistry_alone_relaxes_to_the_photostationary_state() -> None:
    rng = np.random.default_rng(7)
    n = 500
    c = np.zeros((7, n))
    c[grs.I_O3] = rng.uniform(0.0, 0.12, n)
    c[grs.I_NO] = rng.uniform(0.0, 0.1, n)
    c[grs.I_NO2] = rng.uniform(0.0, 0.1, n)
    nox0 = c[grs.I_NO] + c[grs.I_NO2]
    ox0 = c[grs.I_O3] + c[grs.I_NO2]
    j = rng.uniform(2e-3, 9e-3, n)
    temp = rng.uniform(280.0, 310.0, n)
    grs.step(c, j, temp, 1800.0)
    leighton = j * c[grs.I_NO2] / (pub_k4(temp) * c[grs.I_NO] * c[grs.I_O3])
    ok = (c[grs.I_NO] > 1e-6) & (c[grs.I_O3] > 1e-6)
    assert ok.sum() > 400
    np.testing.assert_allclose(leighton[ok], 1.0, rtol=0.01)
    # the fast cycle conserves NOx and Ox exactly
    np.testing.assert_allclose(c[grs.I_NO] + c[grs.I_NO2], nox0, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(c[grs.I_O3] + c[grs.I_NO2], ox0, rtol=1e-12, atol=1e-15)


def test_photostationary_helper_matches_the_leighton_relation() -> None:
    j, t = np.array(8e-3), np.array(298.0)
    no2 = grs.photostationary_no2(np.array(0.03), np.array(0.07), j, grs.k4(t))
    no, o3 = 0.03 - no2, 0.07 - no2
    assert float(j * no2 / (pub_k4(298.0) * no * o3)) == pytest.approx(1.0, rel=1e-10)


def test_organic_radicals_raise_the_leighton_ratio_above_one() -> None:
    c = _state(0.05, 0.01, 0.02, roc=0.5)
    j, temp = np.array([8e-3]), np.array([300.0])
    grs.step(c, j, temp, 1800.0)
    ratio = float(j[0] * c[grs.I_NO2, 0] / (pub_k4(300.0) * c[grs.I_NO, 0] * c[grs.I_O3, 0]))
    assert ratio > 1.05  # RP + NO -> NO2 competes with O3 + NO: the classic peroxy-radical deviation


@pytest.mark.parametrize(("o3", "no"), [(0.030, 0.050), (0.040, 0.010)])
def test_at_night_ozone_is_titrated_by_no(o3: float, no: float) -> None:
    c = _state(o3, no, 0.005, roc=0.3)
    grs.step(c, np.array([0.0]), np.array([290.0]), 3 * 3600.0)
    titrated = min(o3, no)
    assert c[grs.I_O3, 0] == pytest.approx(o3 - titrated, abs=2e-5)
    assert c[grs.I_NO, 0] == pytest.approx(no - titrated, abs=2e-5)
    assert c[grs.I_NO2, 0] == pytest.approx(0.005 + titrated, abs=2e-5)
    assert c[grs.I_RP, 0] == 0.0


def _rk4_reference(c0: list[float], j: float, temp: float, t_end: float, h: float = 0.02) -> list[float]:
    """Explicit RK4 of the full GRS system with prognostic RP (tiny steps) and the published rate
    constants (none taken from grs.py): an independent reference."""
    k1, k2, k4 = pub_k1(j, temp), pub_k2(temp), pub_k4(temp)
    roc = c0[grs.I_ROC]

    def f(y: list[float]) -> list[float]:
        o3, no, no2, rp, _, _ = y
        r1, r2, r3, r4 = k1 * roc, k2 * rp * no, j * no2, k4 * no * o3
        r5, r6, r7 = PUB_K5 * rp * rp, PUB_K6 * rp * no2, PUB_K7 * rp * no2
        return [r3 - r4, r3 - r4 - r2, r2 + r4 - r3 - r6 - r7, r1 - r2 - r5 - r6 - r7, r6, r7]

    y = [c0[grs.I_O3], c0[grs.I_NO], c0[grs.I_NO2], c0[grs.I_RP], c0[grs.I_SGN], c0[grs.I_SNGN]]
    for _ in range(round(t_end / h)):
        a = f(y)
        b = f([y[i] + 0.5 * h * a[i] for i in range(6)])
        c = f([y[i] + 0.5 * h * b[i] for i in range(6)])
        d = f([y[i] + h * c[i] for i in range(6)])
        y = [y[i] + h / 6 * (a[i] + 2 * b[i] + 2 * c[i] + d[i]) for i in range(6)]
    return y


def test_ten_minutes_of_urban_noon_match_the_explicit_reference() -> None:
    """A short unit-tier version of the accuracy test below (the radical reactions matter here)."""
    c = _state(0.040, 0.020, 0.030, 0.5)
    ref = _rk4_reference(list(c[:, 0]), 8e-3, 300.0, 600.0, h=0.05)
    grs.step(c, np.array([8e-3]), np.array([300.0]), 600.0)
    assert c[grs.I_O3, 0] == pytest.approx(ref[0], rel=0.01)
    assert c[grs.I_NO, 0] + c[grs.I_NO2, 0] == pytest.approx(ref[1] + ref[2], rel=0.03)
    assert c[grs.I_SGN, 0] == pytest.approx(ref[4], rel=0.05)
    assert c[grs.I_SNGN, 0] == pytest.approx(ref[5], rel=0.05)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("o3", "no", "no2", "roc", "j", "temp"),
    [
        (0.040, 0.020, 0.030, 0.5, 8e-3, 300.0),  # urban noon
        (0.060, 0.002, 0.005, 1.0, 8e-3, 305.0),  # NOx-limited, radical-rich
        (0.020, 0.200, 0.050, 1.0, 6e-3, 295.0),  # fresh plume
    ],
)
def test_integrator_matches_a_fine_explicit_reference(
    o3: float, no: float, no2: float, roc: float, j: float, temp: float
) -> None:
    c = _state(o3, no, no2, roc)
    ref = _rk4_reference(list(c[:, 0]), j, temp, 1800.0)
    grs.step(c, np.array([j]), np.array([temp]), 1800.0)
    assert c[grs.I_O3, 0] == pytest.approx(ref[0], rel=0.01)
    nox, nox_ref = c[grs.I_NO, 0] + c[grs.I_NO2, 0], ref[1] + ref[2]
    assert nox == pytest.approx(nox_ref, rel=0.03)  # includes the ~1.5 % of the RP steady-state assumption


def test_nitrogen_is_conserved_and_everything_stays_non_negative() -> None:
    rng = np.random.default_rng(11)
    n = 2000
    c = np.zeros((7, n))
    for i, top in ((grs.I_O3, 0.15), (grs.I_NO, 0.5), (grs.I_NO2, 0.2), (grs.I_ROC, 3.0), (grs.I_SGN, 0.01)):
        c[i] = rng.uniform(0.0, top, n) * (rng.uniform(size=n) > 0.1)  # some exact zeros
    n_total = c[grs.I_NO] + c[grs.I_NO2] + c[grs.I_SGN] + c[grs.I_SNGN]
    roc = c[grs.I_ROC].copy()
    j = rng.uniform(0.0, 9e-3, n) * (rng.uniform(size=n) > 0.3)
    temp = rng.uniform(270.0, 315.0, n)
    for _ in range(6):
        grs.step(c, j, temp, 600.0)
    assert np.all(c >= 0.0) and np.all(np.isfinite(c))
    after = c[grs.I_NO] + c[grs.I_NO2] + c[grs.I_SGN] + c[grs.I_SNGN]
    np.testing.assert_allclose(after, n_total, rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(c[grs.I_ROC], roc)
