"""NOAA solar position against the check values of science.md section 8 and NREL SPA values."""

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


# An independent reference: NREL's Solar Position Algorithm (Reda & Andreas 2004, NREL/TP-560-34302,
# +-0.0003 deg), values computed with pvlib 0.16.1 `spa_python` (delta_t 69 s), topocentric true zenith and
# azimuth clockwise from north. The NOAA Fourier series differs from SPA by up to ~0.2 deg in zenith and
# ~0.45 deg in azimuth (its equation of time and declination are approximations), hence the tolerances; any
# error in the azimuth formula (quadrant, supplement, morning/afternoon flip) moves it by tens of degrees.
SPA = [
    # UTC time, lat, lon, zenith, azimuth
    (dt.datetime(2024, 7, 15, 15, 0), 39.74, -104.99, 54.932, 90.261),  # Denver 08:00 MST
    (dt.datetime(2024, 7, 15, 22, 0), 39.74, -104.99, 41.218, 256.624),  # Denver 15:00 MST
    (dt.datetime(2024, 7, 16, 1, 0), 39.74, -104.99, 75.449, 285.804),  # Denver 18:00 MST
    (dt.datetime(2024, 12, 21, 16, 0), 39.74, -104.99, 75.632, 138.330),  # Denver 09:00 MST, winter
    (dt.datetime(2024, 3, 20, 21, 30), 40.00, -105.00, 51.286, 228.410),  # 14:30 MST, equinox
    (dt.datetime(2024, 6, 20, 12, 0), 51.48, 0.00, 28.045, 179.168),  # Greenwich, just before noon
    (dt.datetime(2024, 9, 1, 6, 0), -33.87, 151.21, 71.504, 293.775),  # Sydney 16:00, southern hemisphere
]


@pytest.mark.parametrize(("when", "lat", "lon", "zenith", "azimuth"), SPA)
def test_zenith_and_azimuth_agree_with_nrel_spa(
    when: dt.datetime, lat: float, lon: float, zenith: float, azimuth: float
) -> None:
    doy = when.timetuple().tm_yday
    p = solar.solar_position(doy, when.hour + when.minute / 60.0, lat, lon, timezone=0.0, days_in_year=366)
    assert float(p.zenith_deg) == pytest.approx(zenith, abs=0.25)
    assert float(p.azimuth_deg) == pytest.approx(azimuth, abs=0.5)


def test_azimuth_of_a_local_clock_time_equals_the_utc_form() -> None:
    # 15:00 MST on 2024-07-15 is 22:00 UTC (SPA: 256.624 deg)
    local = solar.solar_position(197, 15.0, 39.74, -104.99, timezone=-7.0, days_in_year=366)
    assert float(local.azimuth_deg) == pytest.approx(256.624, abs=0.5)


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
