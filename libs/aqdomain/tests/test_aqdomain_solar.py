"""NOAA solar position against the check values of science.md section 8."""

import datetime as dt

import numpy as np
import pytest
from aqdomain import solar


def test_summer_solstice_noon_mst_at_40n_105w() -> None:
    p = solar.solar_position(172, 12.0, 40.0, -105.0, timezone=-7.0)
    assert float(p.zenith_deg) == pytest.approx(16.55, abs=0.005)
    assert float(p.declination_deg) == pytest.approx(23.45, abs=0.005)
    assert float(p.eqtime_min) == pytest.approx(-1.33, abs=0.005)


def test_winter_solstice_noon_utc_at_40n_0e() -> None:
    p = solar.solar_position(355, 12.0, 40.0, 0.0, timezone=0.0)
    assert float(p.zenith_deg) == pytest.approx(63.42, abs=0.005)


def test_utc_helper_matches_local_clock_formulation() -> None:
    # 12:00 MST is 19:00 UTC; the two forms differ only through gamma's hour term (< 0.01 deg)
    z = solar.zenith_utc(dt.datetime(2024, 6, 20, 19, 0), 40.0, -105.0)  # 2024 is leap: doy 172
    assert float(z) == pytest.approx(16.55, abs=0.02)


def test_azimuth_morning_east_afternoon_west() -> None:
    am = solar.solar_position(172, 9.0, 40.0, -105.0, timezone=-7.0).azimuth_deg
    pm = solar.solar_position(172, 15.0, 40.0, -105.0, timezone=-7.0).azimuth_deg
    assert 45.0 < float(am) < 135.0
    assert 225.0 < float(pm) < 315.0


def test_sun_below_horizon_at_local_midnight_and_cos_clipped() -> None:
    when = dt.datetime(2024, 7, 15, 7, 0)  # 00:00 MST
    assert float(solar.zenith_utc(when, 40.0, -105.0)) > 90.0
    assert float(solar.cos_zenith_utc(when, 40.0, -105.0)) == 0.0


def test_sunrise_sunset_denver_june() -> None:
    rise, sset = solar.sunrise_sunset_utc(dt.date(2024, 6, 20), 40.0, -105.0)
    # about 04:31 and 19:31 MST
    assert float(rise) / 60.0 - 7.0 == pytest.approx(4.52, abs=0.05)
    assert float(sset) / 60.0 - 7.0 == pytest.approx(19.53, abs=0.05)


def test_vectorised_over_arrays() -> None:
    lats = np.array([30.0, 40.0, 50.0])
    z = solar.solar_position(172, 12.0, lats, -105.0, timezone=-7.0).zenith_deg
    assert z.shape == (3,)
    assert np.all(np.diff(z) > 0)  # farther from the subsolar latitude, larger zenith
