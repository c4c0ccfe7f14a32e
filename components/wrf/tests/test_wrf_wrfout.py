"""The wrfout file: contract variables and attributes, xarray and wrf-python readers, golden regression."""

import datetime as dt
from pathlib import Path

import netCDF4
import numpy as np
from aqdomain import domain, surface

CASE = Path(__file__).resolve().parent / "golden" / "one-day"
EXPECTED = CASE / "expected" / "wrfout_d01.nc"
CONTRACT_VARIABLES = (
    "Times", "XTIME", "XLAT", "XLONG", "U10", "V10", "T2", "Q2", "PSFC", "PBLH", "HGT", "SWDOWN",
    "U", "V", "W", "T", "P", "PB", "PH", "PHB", "ZNU", "ZNW",
)  # fmt: skip


def test_contract_variables_dimensions_and_attributes() -> None:
    with netCDF4.Dataset(EXPECTED) as ds:
        for name in CONTRACT_VARIABLES:
            assert name in ds.variables, name
        assert ds.dimensions["Time"].isunlimited() and len(ds.dimensions["Time"]) == 24
        assert len(ds.dimensions["DateStrLen"]) == 19
        assert ds.variables["U"].dimensions == ("Time", "bottom_top", "south_north", "west_east_stag")
        assert ds.variables["U"].stagger == "X" and ds.variables["T2"].MemoryOrder == "XY "
        assert ds.variables["T2"].coordinates == "XLONG XLAT XTIME"
        assert ds.getncattr("WEST-EAST_GRID_DIMENSION") == 49
        assert ds.MAP_PROJ == 1 and ds.TRUELAT1 == 30.0 and ds.TRUELAT2 == 60.0 and ds.STAND_LON == -105.0
        assert ds.MOAD_CEN_LAT == 40.0 and ds.DX == 4000.0
        times = [b"".join(row).decode() for row in ds.variables["Times"][:]]
        assert times[0] == "2024-07-15_00:00:00" and times[-1] == "2024-07-15_23:00:00"
        np.testing.assert_allclose(ds.variables["XTIME"][:], np.arange(24) * 60.0)
        np.testing.assert_allclose(ds.variables["HGT"][0], surface.terrain(), rtol=1e-6)
        # geopotential height of the layer interfaces = terrain + the fixed heights above ground
        z = (ds.variables["PH"][0] + ds.variables["PHB"][0]) / 9.81
        np.testing.assert_allclose(
            z - z[0], np.broadcast_to(domain.layer_interfaces()[:, None, None], z.shape), atol=0.01
        )


def test_opens_in_xarray() -> None:
    import pandas as pd
    import xarray as xr

    with xr.open_dataset(EXPECTED) as ds:
        times = pd.to_datetime(ds.Times.astype(str), format="%Y-%m-%d_%H:%M:%S")
        assert times[0] == pd.Timestamp("2024-07-15 00:00") and len(times) == 24
        assert ds.T2.dims == ("Time", "south_north", "west_east")
        assert float(ds.T2.min()) > 270.0 and float(ds.T2.max()) < 320.0
        assert ds.U.sizes["west_east_stag"] == 49


def test_wrf_python_getvar_t2_latlon_uvmet10() -> None:
    import wrf

    g = domain.grid()
    with netCDF4.Dataset(EXPECTED) as nc:
        raw_t2 = np.asarray(nc.variables["T2"][:])
        u10 = np.asarray(nc.variables["U10"][7], dtype=np.float64)
        v10 = np.asarray(nc.variables["V10"][7], dtype=np.float64)
        t2 = wrf.getvar(nc, "T2", timeidx=wrf.ALL_TIMES)
        lat = wrf.getvar(nc, "lat")
        lon = wrf.getvar(nc, "lon")
        uvmet10 = wrf.getvar(nc, "uvmet10", timeidx=7)
        z = wrf.getvar(nc, "z", timeidx=7)
        tc = wrf.getvar(nc, "tc", timeidx=7)
    assert t2.shape == (24, 48, 48)
    np.testing.assert_array_equal(t2.values, raw_t2)
    assert str(t2.Time.values[5])[:19] == "2024-07-15T05:00:00"
    np.testing.assert_allclose(lat.values, g.lat, atol=1e-4)
    np.testing.assert_allclose(lon.values, g.lon, atol=1e-4)
    # earth-relative 10 m wind = grid-relative wind rotated by cone x (lon - STAND_LON)
    ue, ve = domain.grid_to_earth(u10, v10, g.lon)
    np.testing.assert_allclose(uvmet10.values[0], ue, atol=1e-4)
    np.testing.assert_allclose(uvmet10.values[1], ve, atol=1e-4)
    assert np.abs(uvmet10.values[1] - v10).max() > 1e-3  # the rotation is not a no-op away from STAND_LON
    assert z.shape == (8, 48, 48) and float(z.min()) > float(surface.terrain().min())
    assert float(tc.min()) > -10.0 and float(tc.max()) < 45.0


def test_day_boundaries_in_times() -> None:
    with netCDF4.Dataset(EXPECTED) as ds:
        first = dt.datetime.strptime(b"".join(ds.variables["Times"][0]).decode(), "%Y-%m-%d_%H:%M:%S")
    assert first == dt.datetime(2024, 7, 15)
