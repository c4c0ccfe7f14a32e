"""Grid, projection, synthetic surface and inventories of the reference domain."""

import datetime as dt
import math

import numpy as np
import pytest
from aqdomain import domain, inventory, surface


def test_grid_shape_and_centre() -> None:
    g = domain.grid()
    assert g.lat.shape == (domain.NROWS, domain.NCOLS)
    # the domain centre (a cell corner of the 48 x 48 grid) is the projection origin (40 N, 105 W)
    lat = 0.25 * (g.lat[23, 23] + g.lat[23, 24] + g.lat[24, 23] + g.lat[24, 24])
    lon = 0.25 * (g.lon[23, 23] + g.lon[23, 24] + g.lon[24, 23] + g.lon[24, 24])
    assert lat == pytest.approx(40.0, abs=1e-3)
    assert lon == pytest.approx(-105.0, abs=1e-3)
    assert g.x[0, 0] == domain.XORIG + domain.DX / 2


def test_projection_round_trip() -> None:
    lat = np.linspace(38.0, 42.0, 7)
    lon = np.linspace(-107.0, -103.0, 7)
    x, y = domain.ll_to_xy(lat, lon)
    lat2, lon2 = domain.xy_to_ll(x, y)
    np.testing.assert_allclose(lat2, lat, atol=1e-10)
    np.testing.assert_allclose(lon2, lon, atol=1e-10)


def test_projection_matches_pyproj() -> None:
    import pyproj

    proj = pyproj.Proj("+proj=lcc +lat_1=30 +lat_2=60 +lat_0=40 +lon_0=-105 +R=6370000 +units=m +no_defs")
    x, y = domain.ll_to_xy(41.0, -103.5)
    px, py = proj(-103.5, 41.0)
    assert float(x) == pytest.approx(px, abs=1e-3)
    assert float(y) == pytest.approx(py, abs=1e-3)


def test_cone_and_wind_rotation_match_science_md() -> None:
    # science.md section 6 cone formula with TRUELAT1 = 30, TRUELAT2 = 60
    assert domain.cone_factor() == pytest.approx(0.7155668, abs=1e-6)
    ue, ve = domain.grid_to_earth(np.array(5.0), np.array(0.0), np.array(-106.0))
    ug, vg = domain.earth_to_grid(ue, ve, np.array(-106.0))
    assert float(ug) == pytest.approx(5.0)
    assert float(vg) == pytest.approx(0.0, abs=1e-12)
    assert float(ve) > 0  # west of the central meridian, grid east points a little north of true east


def test_wind_rotation_matches_science_md_check_value() -> None:
    # science.md section 6: U10 = 5, V10 = 0 at lon - STAND_LON = -1 deg, cone 0.6304 -> (4.99970, 0.05502)
    ue, ve = domain.grid_to_earth(np.array(5.0), np.array(0.0), np.array(domain.STAND_LON - 1.0), cone=0.6304)
    # science.md rounds the cone to 4 digits, hence 2e-5 rather than the 5e-6 of the printed values
    assert float(ue) == pytest.approx(4.99970, abs=5e-6)
    assert float(ve) == pytest.approx(0.05502, abs=2e-5)


def _us76_pressure(z: float) -> float:
    """US Standard Atmosphere 1976 pressure (Pa) to 32 km (troposphere, tropopause, lower stratosphere)."""
    if z <= 11_000.0:
        return 101_325.0 * (1.0 - 0.0065 * z / 288.15) ** 5.25588
    if z <= 20_000.0:
        return 22_632.06 * math.exp(-0.000157688 * (z - 11_000.0))
    return 5_474.889 * (216.65 / (216.65 + 0.001 * (z - 20_000.0))) ** 34.1632


def test_wrf_eta_levels_are_the_nominal_heights_in_the_standard_atmosphere() -> None:
    eta = np.array(domain.WRF_ETA_LEVELS)
    assert len(eta) == 33 and eta[0] == 1.0 and eta[-1] == 0.0 and np.all(np.diff(eta) < 0)
    assert domain.P_TOP_PA == 5000.0
    ps = _us76_pressure(2000.0)  # the domain's mean terrain
    for z, e in zip(domain.WRF_NOMINAL_HEIGHTS_M, eta, strict=False):
        assert (_us76_pressure(2000.0 + z) - 5000.0) / (ps - 5000.0) == pytest.approx(e, abs=6e-5)


def test_chemistry_layers_are_a_subset_of_wrf_levels() -> None:
    zf = domain.layer_interfaces()
    assert len(zf) == domain.NLAYS + 1 == 9
    assert tuple(zf) == (0.0, 40.0, 100.0, 200.0, 400.0, 700.0, 1100.0, 1600.0, 2300.0)
    assert np.all(domain.layer_thickness() > 0)
    eta = domain.eta_interfaces()
    assert eta[0] == 1.0 and np.all(np.diff(eta) < 0)
    assert set(domain.ETA_INTERFACES) <= set(domain.WRF_ETA_LEVELS)
    assert (domain.VGTYP, domain.VGTOP) == (7, 5000.0)  # VGWRFEM, WRF's P_TOP


def test_terrain_has_a_ridge_and_a_valley() -> None:
    h = surface.terrain()
    g = domain.grid()
    assert h.shape == (48, 48)
    np.testing.assert_array_equal(h, surface.terrain())  # deterministic
    # the ridge: the western mountains stand well above the plains
    assert h[:, :12].max() - h[:, 36:].mean() > 1500.0
    # the valley: along the ridge crest, the gap at VALLEY_Y_M is lower than the crest elsewhere
    crest_col = int(np.argmin(np.abs(g.x[0] - surface.RIDGE_X_M)))
    gap_row = int(np.argmin(np.abs(g.y[:, 0] - surface.VALLEY_Y_M)))
    assert h[gap_row, crest_col] < h[:, crest_col].max() - 800.0


def test_landcover_fractions_sum_to_one() -> None:
    lc = surface.landcover()
    assert lc.fractions.shape == (len(surface.LANDCOVER_CATEGORIES), 48, 48)
    assert np.all(lc.fractions >= 0)
    np.testing.assert_allclose(lc.fractions.sum(axis=0), 1.0, rtol=1e-12)
    assert lc["coniferous_forest"].max() > 0.5  # forested mountains
    assert lc["urban"].max() > 0.5  # a city


def test_population_has_a_city() -> None:
    pop = surface.population()
    row, col = domain.cell_of(*surface.CITY_LATLON)
    assert np.unravel_index(np.argmax(pop), pop.shape) == (row, col)
    assert 2.0e6 < pop.sum() < 3.5e6
    z = surface.zones()
    assert z[row, col] == 0 and set(np.unique(z)) == {0, 1, 2}


def test_point_sources_loaded_and_inside_domain() -> None:
    ps = inventory.point_sources()
    assert len(ps) >= 5
    for p in ps:
        assert 0 <= p.row < 48 and 0 <= p.col < 48
        assert p.stack_height_m > 0 and p.stack_diameter_m > 0 and p.exit_velocity_m_s > 0
        assert p.exit_temperature_k > 300 and p.nox_t_yr >= 0 and p.voc_t_yr >= 0


def test_area_inventory_conserves_zone_totals() -> None:
    inv = inventory.area_inventory()
    for sector in inventory.area_sectors():
        for pol in ("NOX", "VOC"):
            total = sum(float(inv["emissions"][z][sector][pol]) for z in surface.ZONE_NAMES)
            grid_total = inventory.area_annual_grid(sector, pol).sum()
            assert grid_total == pytest.approx(total, rel=1e-12)
            assert inventory.area_annual_grid(sector, pol).min() >= 0.0


def test_profiles_normalised_and_speciation() -> None:
    for name, prof in inventory.profiles()["temporal"].items():
        assert (len(prof["diurnal"]), len(prof["weekly"]), len(prof["monthly"])) == (24, 7, 12), name
        assert min(prof["diurnal"]) > 0
    assert inventory.temporal_factor("flat", dt.datetime(2024, 7, 15, 5)) == pytest.approx(1.0)
    # 2024-07-15 14:00 UTC = Monday 07:00 MST: the morning rush of the onroad profile
    prof = inventory.profiles()["temporal"]["onroad"]
    expected = (
        prof["diurnal"][7]
        / np.mean(prof["diurnal"])
        * prof["weekly"][0]
        / np.mean(prof["weekly"])
        * prof["monthly"][6]
        / np.mean(prof["monthly"])
    )
    assert inventory.temporal_factor("onroad", dt.datetime(2024, 7, 15, 14)) == pytest.approx(expected)
    assert expected > 1.5
    f = inventory.speciation_factors("nox_combustion")
    assert set(f) == {"NO", "NO2"}
    assert f["NO"] + f["NO2"] == pytest.approx(1 / 46.0055)
    mol = inventory.annual_to_moles_per_s(8760.0 * 3600.0 / 1e6, "voc_mobile")  # 1 g/s
    assert mol["ROC"] == pytest.approx(1 / 14.4)
