"""Guenther (1993) activity factors and the MEGAN2.1 emission factors against science.md section 2."""

import emis_biogenic
import guenther
import numpy as np
import pytest
from aqdomain import surface


@pytest.mark.parametrize(("par", "expected"), [(1000.0, 0.9996), (500.0, 0.857), (200.0, 0.507)])
def test_light_factor_matches_check_values(par: float, expected: float) -> None:
    assert float(guenther.light_factor(par)) == pytest.approx(expected, abs=6e-4)


@pytest.mark.parametrize(
    ("temp", "expected"), [(298.15, 0.537), (303.0, 0.965), (310.0, 1.79), (314.0, 1.87)]
)
def test_temperature_factor_matches_check_values(temp: float, expected: float) -> None:
    assert float(guenther.temperature_factor(temp)) == pytest.approx(expected, abs=6e-3)


def test_light_factor_is_zero_in_the_dark_and_saturates() -> None:
    assert float(guenther.light_factor(0.0)) == 0.0
    assert float(guenther.light_factor(-5.0)) == 0.0
    values = guenther.light_factor(np.array([100.0, 500.0, 1000.0, 2000.0, 1.0e5]))
    assert np.all(np.diff(values) > 0)
    assert values[-1] == pytest.approx(guenther.C_L1, rel=1e-3)


def test_temperature_factor_has_an_optimum_near_314_k() -> None:
    temps = np.arange(280.0, 330.0, 0.1)
    best = temps[int(np.argmax(guenther.temperature_factor(temps)))]
    assert 312.0 < best < 316.0


def test_monoterpene_factor_uses_beta_0_09_per_kelvin() -> None:
    assert float(guenther.monoterpene_factor(303.0)) == 1.0
    assert float(guenther.monoterpene_factor(313.0)) == pytest.approx(np.exp(0.9))
    assert float(guenther.monoterpene_factor(293.0)) == pytest.approx(np.exp(-0.9))


def test_par_conversion_is_0_45_times_4_57_per_watt() -> None:
    assert float(guenther.par_from_swdown(1000.0)) == pytest.approx(2056.5)
    assert float(guenther.par_from_swdown(-3.0)) == 0.0


def test_flux_conversion_to_moles_per_second_per_cell() -> None:
    # 10000 ug m-2 h-1 of isoprene over a 4 km x 4 km cell
    mol_s = float(guenther.flux_to_mol_per_s(10000.0, 4000.0 * 4000.0, guenther.MW_ISOPRENE))
    assert mol_s == pytest.approx(10000.0 * 1.6e7 / (68.12 * 1e6 * 3600.0))
    assert mol_s == pytest.approx(0.6524, rel=1e-3)


# Canopy-scale emission factors (ug m-2 h-1 at 303 K, PAR 1000) of MEGAN2.1: Guenther et al. (2012),
# GMD 5, 1471, Tables 2-3, as tabulated in /work/shared/science.md section 2. Isoprene: broadleaf
# deciduous temperate tree 10000, needleleaf evergreen temperate tree 600, warm C4 grass 200, crop 1.
# Monoterpenes = alpha-pinene + beta-pinene + other monoterpenes: NE temperate tree 500 + 300 + 180,
# BD temperate tree 400 + 130 + 150, grass and crop 2 + 1.5 + 5.
PUBLISHED_ISOPRENE = {
    "urban": 0.0,
    "cropland": 1.0,
    "grassland": 200.0,
    "deciduous_forest": 10000.0,
    "coniferous_forest": 600.0,
    "water": 0.0,
}
PUBLISHED_MONOTERPENES = {
    "urban": 0.0,
    "cropland": 8.5,
    "grassland": 8.5,
    "deciduous_forest": 680.0,
    "coniferous_forest": 980.0,
    "water": 0.0,
}


def test_emission_factor_table_is_megan_2_1() -> None:
    assert emis_biogenic.ISOPRENE_EF == PUBLISHED_ISOPRENE
    assert emis_biogenic.MONOTERPENE_EF == PUBLISHED_MONOTERPENES


def test_cell_emission_factors_are_land_cover_weighted_sums() -> None:
    lc = surface.landcover()
    iso, terp = emis_biogenic.emission_factors()
    expected_iso = sum(lc[name] * ef for name, ef in PUBLISHED_ISOPRENE.items())
    expected_terp = sum(lc[name] * ef for name, ef in PUBLISHED_MONOTERPENES.items())
    np.testing.assert_allclose(iso, expected_iso, rtol=1e-12)
    np.testing.assert_allclose(terp, expected_terp, rtol=1e-12)
