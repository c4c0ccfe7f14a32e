"""The wrfout writer on freshly written output, against WRF's conventions stated here, and the readers.

Every test reads the file the writer under test has just written from the golden case's coarse input
(``fresh_wrfout``), never the committed expected file. The conventions are written down in this module
independently of wrfout.py/vertical.py: WRF's date strings, T as perturbation potential temperature,
the eta coordinate, WRF's base state and constants, staggering and attributes, the map factors of the
Lambert conformal projection (Snyder 1987) and the Coriolis parameters.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from aqdomain import domain, surface

# one worker runs every test that uses the downscaled golden day, so it is computed once (make unit
# distributes with --dist loadgroup)
pytestmark = pytest.mark.xdist_group("wrf-golden-day")

# WRF's constants (share/module_model_constants.F): R_d, c_p = 7 R_d / 2, g, and the theta offset T0
R_D, CP, G, T0 = 287.0, 1004.5, 9.81, 300.0
OMEGA = 7.2921e-5  # s-1, Earth's rotation (WRF's EOMEG)
# WRF v4 base state defaults (namelist base_temp, base_lapse, iso_temp; p00) [recall]
P00, T00, TLP, TISO = 1.0e5, 290.0, 50.0, 200.0
P_TOP = 5000.0  # Pa, this domain's model top
WRF_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}_\d{2}:\d{2}:\d{2}")  # WRF's Times: 19 characters, '_' at 10
HOUR_CLOUDY, HOUR_NIGHT = 21, 9  # 14:00 and 02:00 MST
DIAGNOSTICS = Path(__file__).resolve().parent / "wrf_python_diagnostics.py"


def _read(path: Path, *names: str) -> dict[str, np.ndarray]:
    with netCDF4.Dataset(path) as ds:
        return {n: np.asarray(ds.variables[n][:], dtype=np.float64) for n in names}


def _times(path: Path) -> list[str]:
    with netCDF4.Dataset(path) as ds:
        var = ds.variables["Times"]
        var.set_auto_chartostring(False)
        return [b"".join(row).decode("ascii") for row in np.asarray(var[:], dtype="S1")]


def test_times_are_wrf_date_strings(fresh_wrfout: Path) -> None:
    with netCDF4.Dataset(fresh_wrfout) as ds:
        assert ds.dimensions["Time"].isunlimited()
        assert ds.variables["Times"].dimensions == ("Time", "DateStrLen")
        assert len(ds.dimensions["DateStrLen"]) == 19
        assert ds.START_DATE == ds.SIMULATION_START_DATE == "2024-07-15_00:00:00"
        xtime = np.asarray(ds.variables["XTIME"][:])
        assert ds.variables["XTIME"].units == "minutes since 2024-07-15 00:00:00"
    stamps = _times(fresh_wrfout)
    assert all(WRF_STAMP.fullmatch(s) for s in stamps), stamps[:2]
    assert stamps == [f"2024-07-15_{h:02d}:00:00" for h in range(24)]
    np.testing.assert_array_equal(xtime, 60.0 * np.arange(24))


def test_dimensions_staggering_and_attributes(fresh_wrfout: Path) -> None:
    with netCDF4.Dataset(fresh_wrfout) as ds:
        dims = {name: len(d) for name, d in ds.dimensions.items()}
        assert dims["west_east_stag"] == dims["west_east"] + 1 == 49
        assert dims["south_north_stag"] == dims["south_north"] + 1 == 49
        assert dims["bottom_top_stag"] == dims["bottom_top"] + 1
        assert dims["bottom_top"] >= 30  # a full-depth column
        # the *_GRID_DIMENSION globals give the staggered sizes
        assert ds.getncattr("WEST-EAST_GRID_DIMENSION") == 49
        assert ds.getncattr("SOUTH-NORTH_GRID_DIMENSION") == 49
        assert ds.getncattr("BOTTOM-TOP_GRID_DIMENSION") == dims["bottom_top_stag"]
        stagger = {
            "U": ("west_east_stag", "X"),
            "V": ("south_north_stag", "Y"),
            "W": ("bottom_top_stag", "Z"),
        }
        for name, (dim, code) in stagger.items():
            assert dim in ds.variables[name].dimensions and ds.variables[name].stagger == code
        for name in ("PH", "PHB"):
            assert ds.variables[name].dimensions[1] == "bottom_top_stag"
        assert ds.variables["T"].dimensions == ("Time", "bottom_top", "south_north", "west_east")
        for name, order in (("T2", "XY "), ("T", "XYZ"), ("ZNU", "Z  ")):
            assert ds.variables[name].FieldType == 104 and ds.variables[name].MemoryOrder == order
        assert ds.variables["T2"].coordinates == "XLONG XLAT XTIME"
        assert ds.variables["U"].coordinates == "XLONG_U XLAT_U XTIME"
        assert ds.MAP_PROJ == 1 and ds.TRUELAT1 == 30.0 and ds.TRUELAT2 == 60.0
        assert ds.STAND_LON == -105.0 and ds.MOAD_CEN_LAT == 40.0
        assert ds.DX == ds.DY == 4000.0 and ds.GRIDTYPE == "C"
        assert 0.0 < ds.DT <= 6.0 * ds.DX / 1000.0  # seconds; WRF's usual ceiling is 6 s per km
        assert ds.JULDAY == 197 and ds.JULYR == 2024


def test_t_is_potential_temperature_minus_300_kelvin(fresh_wrfout: Path) -> None:
    f = _read(fresh_wrfout, "T", "P", "PB", "T2")
    theta = f["T"] + T0
    temp = theta * ((f["P"] + f["PB"]) / 1.0e5) ** (R_D / CP)
    assert temp.min() > 195.0 and temp.max() < 320.0
    # the lowest level (about 20 m up) is within a few kelvin of the 2 m temperature
    assert np.abs(temp[:, 0] - f["T2"]).max() < 6.0
    # theta never decreases much with height (no strongly superadiabatic layer) and reaches the
    # stratosphere's 450+ K at the top
    assert theta[:, -1].min() > 450.0
    assert (np.diff(theta, axis=1) > -2.0).all()


def test_eta_coordinate_and_hydrostatic_balance(fresh_wrfout: Path) -> None:
    f = _read(fresh_wrfout, "ZNU", "ZNW", "P_TOP", "MU", "MUB", "PSFC", "P", "PB", "PH", "PHB", "T", "QVAPOR")
    f |= _read(fresh_wrfout, "HGT")
    znw, znu = f["ZNW"][0], f["ZNU"][0]
    assert znw[0] == 1.0 and znw[-1] == 0.0 and np.all(np.diff(znw) < 0)
    np.testing.assert_allclose(znu, 0.5 * (znw[1:] + znw[:-1]), atol=1e-7)
    np.testing.assert_array_equal(f["P_TOP"], P_TOP)
    mu = f["MU"] + f["MUB"]  # the column's mass below P_TOP, Pa
    np.testing.assert_allclose(f["PSFC"], mu + P_TOP, rtol=1e-6)
    p_half = znu[None, :, None, None] * mu[:, None] + P_TOP
    np.testing.assert_allclose(f["P"] + f["PB"], p_half, rtol=2e-6)
    # thickness of every layer: hypsometric equation with the layer's virtual temperature
    p_full = znw[None, :, None, None] * mu[:, None] + P_TOP
    temp = (f["T"] + T0) * (p_half / 1.0e5) ** (R_D / CP)
    tv = temp * (1.0 + 0.608 * f["QVAPOR"])
    z = (f["PH"] + f["PHB"]) / G
    expected = R_D * tv / G * np.log(p_full[:, :-1] / p_full[:, 1:])
    np.testing.assert_allclose(np.diff(z, axis=1), expected, rtol=2e-3)
    np.testing.assert_allclose(z[:, 0], f["HGT"], atol=0.05)
    assert z[:, -1].min() > 19_000.0  # 5000 Pa lies about 20 km up


def test_base_state_is_wrfs(fresh_wrfout: Path) -> None:
    f = _read(fresh_wrfout, "HGT", "MUB", "PB", "PHB", "ZNU", "P00", "T00", "TLP", "TISO")
    hgt = f["HGT"][0]
    ratio = T00 / TLP
    p_surface = P00 * np.exp(-ratio + np.sqrt(ratio**2 - 2.0 * G * hgt / (TLP * R_D)))
    np.testing.assert_allclose(f["MUB"], np.broadcast_to(p_surface - P_TOP, f["MUB"].shape), rtol=1e-6)
    pb = f["ZNU"][0][:, None, None] * (p_surface - P_TOP)[None] + P_TOP
    np.testing.assert_allclose(f["PB"], np.broadcast_to(pb, f["PB"].shape), rtol=1e-6)
    np.testing.assert_allclose(f["PHB"][:, 0], G * np.broadcast_to(hgt, f["PHB"][:, 0].shape), rtol=1e-6)
    assert np.all(np.diff(f["PHB"], axis=1) > 0)
    for name, value in (("P00", P00), ("T00", T00), ("TLP", TLP), ("TISO", TISO)):
        np.testing.assert_array_equal(f[name], value)


def test_map_factors_and_coriolis(fresh_wrfout: Path) -> None:
    f = _read(fresh_wrfout, "XLAT", "XLAT_U", "MAPFAC_M", "MAPFAC_U", "MAPFAC_MX", "MAPFAC_MY", "F", "E")
    p1, p2 = np.radians(30.0), np.radians(60.0)
    n = np.log(np.cos(p1) / np.cos(p2)) / np.log(np.tan(np.pi / 4 + p2 / 2) / np.tan(np.pi / 4 + p1 / 2))

    def lcc_scale(lat_deg: np.ndarray) -> np.ndarray:  # Snyder (1987) eq. 15-4, sphere
        phi = np.radians(lat_deg)
        return np.cos(p1) * np.tan(np.pi / 4 + p1 / 2) ** n / (np.cos(phi) * np.tan(np.pi / 4 + phi / 2) ** n)

    np.testing.assert_allclose(f["MAPFAC_M"], lcc_scale(f["XLAT"]), rtol=1e-5)
    np.testing.assert_allclose(f["MAPFAC_U"], lcc_scale(f["XLAT_U"]), rtol=1e-5)
    np.testing.assert_array_equal(f["MAPFAC_MX"], f["MAPFAC_M"])  # conformal: the same in x and y
    np.testing.assert_array_equal(f["MAPFAC_MY"], f["MAPFAC_M"])
    assert f["MAPFAC_M"].min() > 0.95 and f["MAPFAC_M"].max() < 1.0  # between the true latitudes
    np.testing.assert_allclose(f["F"], 2 * OMEGA * np.sin(np.radians(f["XLAT"])), rtol=1e-5)
    np.testing.assert_allclose(f["E"], 2 * OMEGA * np.cos(np.radians(f["XLAT"])), rtol=1e-5)


def test_moisture_and_clouds(fresh_wrfout: Path) -> None:
    f = _read(fresh_wrfout, "QVAPOR", "QCLOUD", "QICE", "T", "P", "PB")
    p = f["P"] + f["PB"]
    temp = (f["T"] + T0) * (p / 1.0e5) ** (R_D / CP)
    es = 611.2 * np.exp(17.67 * (temp - 273.15) / (temp - 29.65))  # Bolton (1980), over water
    q_sat = 0.622 * es / (p - es)
    assert f["QVAPOR"].min() > 0.0 and np.all(f["QVAPOR"] <= q_sat * 1.001)
    assert f["QCLOUD"].min() >= 0.0 and f["QICE"].min() >= 0.0
    condensate = f["QCLOUD"] + f["QICE"]
    assert condensate[HOUR_CLOUDY].max() > 1e-4  # afternoon cloud over the mountains
    assert condensate[HOUR_NIGHT].max() == 0.0  # clear nights
    assert np.all(f["QICE"][temp > 273.15] == 0.0) and np.all(f["QCLOUD"][temp < 253.15] == 0.0)
    cloudy = condensate > 0.0
    np.testing.assert_allclose(f["QVAPOR"][cloudy], q_sat[cloudy], rtol=2e-3)  # saturated in cloud


def test_opens_in_xarray(fresh_wrfout: Path) -> None:
    import pandas as pd
    import xarray as xr

    with xr.open_dataset(fresh_wrfout) as ds:
        times = pd.to_datetime(ds.Times.astype(str), format="%Y-%m-%d_%H:%M:%S")
        assert times[0] == pd.Timestamp("2024-07-15 00:00") and len(times) == 24
        assert ds.T2.dims == ("Time", "south_north", "west_east")
        assert float(ds.T2.min()) > 270.0 and float(ds.T2.max()) < 320.0
        assert ds.U.sizes["west_east_stag"] == 49


def test_wrf_python_getvar_t2_latlon_uvmet10(fresh_wrfout: Path) -> None:
    import wrf

    g = domain.grid()
    with netCDF4.Dataset(fresh_wrfout) as nc:
        raw_t2 = np.asarray(nc.variables["T2"][:])
        u10 = np.asarray(nc.variables["U10"][7], dtype=np.float64)
        v10 = np.asarray(nc.variables["V10"][7], dtype=np.float64)
        t2 = wrf.getvar(nc, "T2", timeidx=wrf.ALL_TIMES)
        lat = wrf.getvar(nc, "lat")
        lon = wrf.getvar(nc, "lon")
        uvmet10 = wrf.getvar(nc, "uvmet10", timeidx=7)
        z = wrf.getvar(nc, "z", timeidx=7)
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
    assert float(z.min()) > float(surface.terrain().min()) and float(z.max()) > 19_000.0


# Every getvar diagnostic that applies to a file with water vapour, cloud water and ice but no
# precipitation (dbz/mdbz need QRAIN: not applicable), with the range a meteorologist would accept over
# this domain on a summer afternoon: (valid fraction, minimum, maximum) per field of the diagnostic.
PLAUSIBLE: dict[str, list[tuple[float, float, float]]] = {
    "slp": [(1.0, 950.0, 1050.0)],  # hPa
    "avo": [(1.0, -50.0, 80.0)],  # 1e-5 s-1
    "pvo": [(1.0, -20.0, 100.0)],  # PVU
    "ctt": [(1.0, -90.0, 45.0)],  # degC (the surface temperature where there is no cloud)
    "cape_2d": [(0.5, 0.0, 5000.0), (0.5, 0.0, 1000.0), (1.0, 0.0, 6000.0), (1.0, 0.0, 25000.0)],
    "cape_3d": [(0.1, 0.0, 5000.0), (0.1, 0.0, 1000.0)],
    "helicity": [(1.0, -1000.0, 1000.0)],  # m2 s-2, 0-3 km storm-relative
    "updraft_helicity": [(1.0, -500.0, 500.0)],  # m2 s-2, 2-5 km
    "pw": [(1.0, 1.0, 60.0)],  # mm
    "rh": [(1.0, 0.0, 100.5)],
    "rh2": [(1.0, 1.0, 100.5)],
    "td": [(1.0, -110.0, 30.0)],
    "td2": [(1.0, -40.0, 30.0)],
    "tk": [(1.0, 190.0, 320.0)],
    "tc": [(1.0, -85.0, 47.0)],
    "tv": [(1.0, 190.0, 325.0)],
    "twb": [(1.0, 190.0, 310.0)],
    "theta": [(1.0, 290.0, 700.0)],
    "eth": [(1.0, 290.0, 700.0)],
    "omg": [(1.0, -50.0, 50.0)],  # Pa s-1
    "p": [(1.0, 4500.0, 105_000.0)],  # Pa
    "pressure": [(1.0, 45.0, 1050.0)],
    "geopt": [(1.0, 1.0e4, 2.5e5)],
    "geopt_stag": [(1.0, 1.0e4, 2.5e5)],
    "z": [(1.0, 1000.0, 25000.0)],
    "height_agl": [(1.0, 1.0, 24000.0)],
    "zstag": [(1.0, 1000.0, 25000.0)],
    "ter": [(1.0, 1000.0, 4500.0)],
    "lat": [(1.0, 38.0, 42.0)],
    "lon": [(1.0, -107.0, -103.0)],
    "xtimes": [(1.0, 1260.0, 1260.0)],
    "ua": [(1.0, -60.0, 60.0)],
    "va": [(1.0, -60.0, 60.0)],
    "wa": [(1.0, -10.0, 10.0)],
    "uvmet": [(1.0, -60.0, 60.0), (1.0, -60.0, 60.0)],
    "uvmet10": [(1.0, -30.0, 30.0), (1.0, -30.0, 30.0)],
    "wspd_wdir": [(1.0, 0.0, 60.0), (1.0, 0.0, 360.0)],
    "wspd_wdir10": [(1.0, 0.0, 30.0), (1.0, 0.0, 360.0)],
    "uvmet_wspd_wdir": [(1.0, 0.0, 60.0), (1.0, 0.0, 360.0)],
    "uvmet10_wspd_wdir": [(1.0, 0.0, 30.0), (1.0, 0.0, 360.0)],
    "cloudfrac": [(1.0, 0.0, 1.0), (1.0, 0.0, 1.0), (1.0, 0.0, 1.0)],
    "T2": [(1.0, 270.0, 320.0)],
}


def test_every_wrf_python_diagnostic_is_finite_and_plausible(fresh_wrfout: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(DIAGNOSTICS), str(fresh_wrfout), str(HOUR_CLOUDY), "times", *PLAUSIBLE],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = proc.stdout.splitlines()
    started = [line.split()[1] for line in lines if line.startswith("start ")]
    assert proc.returncode == 0, f"wrf-python died in {started[-1:]}: {proc.stderr[-2000:]}"
    results = {r["name"]: r for r in (json.loads(line) for line in lines if line.startswith("{"))}
    assert results["times"]["text"].startswith("2024-07-15T21:00:00")
    problems = []
    for name, expected in PLAUSIBLE.items():
        parts = results[name]["parts"]
        assert len(parts) == len(expected), name
        for i, (part, (valid, lo, hi)) in enumerate(zip(parts, expected, strict=True)):
            if part["valid"] < valid or not (lo <= part.get("min", np.nan) and part.get("max", np.nan) <= hi):
                problems.append(f"{name}[{i}]: {part} not within valid >= {valid}, [{lo}, {hi}]")
    assert not problems, "\n".join(problems)
    # the afternoon has cloud: somewhere the cloud top is much colder than the ground
    assert results["ctt"]["parts"][0]["min"] < 0.0


def test_day_boundaries_in_times(fresh_wrfout: Path) -> None:
    first = dt.datetime.strptime(_times(fresh_wrfout)[0], "%Y-%m-%d_%H:%M:%S")
    assert first == dt.datetime(2024, 7, 15)
