"""Briggs/ISC3 plume rise (the science.md worked example), PG classes and layer allocation."""

import numpy as np
import plumerise
import pytest
from plumerise import Stack

WORKED = Stack(height=50.0, diameter=3.0, velocity=15.0, temperature=420.0)
LAYERS = np.array([0.0, 40.0, 100.0, 200.0, 400.0, 700.0, 1100.0, 1600.0, 2300.0])


def test_worked_example_buoyancy_flux() -> None:
    assert plumerise.buoyancy_flux(WORKED, 293.0) == pytest.approx(100.1, abs=0.05)


def test_worked_example_neutral_rise() -> None:
    rise = plumerise.final_rise(WORKED, 293.0, 5.0, stability=3)
    assert rise.buoyant
    assert rise.rise == pytest.approx(122.8, abs=0.05)
    assert rise.distance_to_final == pytest.approx(751.0, abs=0.5)
    assert rise.release_height == 50.0  # v_s = 15 >= 1.5 u: no stack-tip downwash
    assert rise.centreline == pytest.approx(172.8, abs=0.05)


def test_worked_example_stable_e_rise() -> None:
    rise = plumerise.final_rise(WORKED, 293.0, 5.0, stability=4)
    assert rise.buoyant
    assert rise.rise == pytest.approx(80.7, abs=0.05)
    assert rise.distance_to_final == pytest.approx(400.0, abs=0.5)


def test_small_buoyancy_flux_branch() -> None:
    small = Stack(height=20.0, diameter=0.5, velocity=10.0, temperature=400.0)
    fb = plumerise.buoyancy_flux(small, 293.0)
    assert fb < 55.0
    rise = plumerise.final_rise(small, 293.0, 4.0, stability=2)
    assert rise.rise == pytest.approx(21.425 * fb**0.75 / 4.0)
    assert rise.distance_to_final == pytest.approx(49.0 * fb**0.625)


def test_cold_jet_gets_momentum_rise_capped_in_stable_air() -> None:
    cold = Stack(height=30.0, diameter=1.0, velocity=20.0, temperature=290.0)
    neutral = plumerise.final_rise(cold, 293.0, 5.0, stability=3)
    assert not neutral.buoyant
    assert neutral.rise == pytest.approx(3.0 * 1.0 * 20.0 / 5.0)
    stable = plumerise.final_rise(cold, 293.0, 5.0, stability=5)
    assert not stable.buoyant
    assert 0.0 < stable.rise <= neutral.rise


def test_rise_falls_with_wind_and_stability() -> None:
    neutral = [plumerise.final_rise(WORKED, 293.0, u, 3).rise for u in (2.0, 5.0, 10.0)]
    assert neutral[0] > neutral[1] > neutral[2]
    assert plumerise.final_rise(WORKED, 293.0, 5.0, 5).rise < plumerise.final_rise(WORKED, 293.0, 5.0, 4).rise


def test_stack_tip_downwash_lowers_slow_stacks() -> None:
    slow = Stack(height=40.0, diameter=2.0, velocity=3.0, temperature=400.0)
    assert plumerise.stack_tip_downwash(slow, 6.0) == pytest.approx(40.0 + 2 * 2.0 * (0.5 - 1.5))
    assert plumerise.stack_tip_downwash(WORKED, 5.0) == 50.0


def test_zero_wind_is_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        plumerise.final_rise(WORKED, 293.0, 0.0, 3)


@pytest.mark.parametrize(
    ("wind", "sw", "expected"),
    [
        (1.0, 800.0, "A"),
        (4.0, 800.0, "B"),
        (4.0, 400.0, "C"),
        (7.0, 100.0, "D"),
        (1.0, 0.0, "F"),
        (4.0, 0.0, "E"),
        (8.0, 0.0, "D"),
    ],
)
def test_pasquill_classes_from_wind_and_radiation(wind: float, sw: float, expected: str) -> None:
    assert plumerise.CLASS_NAMES[plumerise.pasquill_class(wind, sw)] == expected


def test_power_law_wind_grows_with_height_and_stability() -> None:
    assert plumerise.stack_top_wind(5.0, 10.0, 3) == pytest.approx(5.0)
    assert plumerise.stack_top_wind(5.0, 100.0, 3) == pytest.approx(5.0 * 10**0.15)
    assert plumerise.stack_top_wind(5.0, 100.0, 5) > plumerise.stack_top_wind(5.0, 100.0, 0)
    assert plumerise.stack_top_wind(0.2, 10.0, 3) == 1.0


def test_layer_fractions_by_overlap() -> None:
    frac = plumerise.layer_fractions(50.0, 250.0, LAYERS)
    assert frac == pytest.approx([0.0, 0.25, 0.5, 0.25, 0, 0, 0, 0])


def test_layer_fractions_conserve_mass_above_the_top_and_for_thin_plumes() -> None:
    high = plumerise.layer_fractions(2000.0, 2600.0, LAYERS)
    assert high.sum() == pytest.approx(1.0)
    assert high[-1] == pytest.approx(1.0)
    thin = plumerise.layer_fractions(150.0, 150.0, LAYERS)
    assert thin == pytest.approx([0, 0, 1.0, 0, 0, 0, 0, 0])
    above = plumerise.layer_fractions(3000.0, 3500.0, LAYERS)
    assert above == pytest.approx([0, 0, 0, 0, 0, 0, 0, 1.0])


def test_plume_extent_is_half_to_one_and_a_half_rises() -> None:
    rise = plumerise.final_rise(WORKED, 293.0, 5.0, 3)
    bottom, top = plumerise.plume_extent(rise)
    assert bottom == pytest.approx(50.0 + 0.5 * rise.rise)
    assert top == pytest.approx(50.0 + 1.5 * rise.rise)
