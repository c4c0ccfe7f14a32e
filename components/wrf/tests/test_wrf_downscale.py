"""Physics and I/O of the downscaler on the golden case's coarse input."""

import datetime as dt
from pathlib import Path

import boundary_layer as bl
import downscale
import netCDF4
import numpy as np
import pytest
from aqdomain import domain, solar, surface

# one worker runs every test that uses the downscaled golden day, so it is computed once (make unit
# distributes with --dist loadgroup)
pytestmark = pytest.mark.xdist_group("wrf-golden-day")

CASE = Path(__file__).resolve().parent / "golden" / "one-day"
COARSE = CASE / "inputs" / "coarse.nc"
DAY = dt.date(2024, 7, 15)


@pytest.fixture(scope="module")
def day(day_result: downscale.DayResult) -> downscale.DayResult:
    return day_result


@pytest.fixture(scope="module")
def coarse() -> downscale.Coarse:
    return downscale.read_coarse(COARSE)


def test_24_hourly_steps(day: downscale.DayResult) -> None:
    assert day.times == [dt.datetime(2024, 7, 15, h) for h in range(24)]
    nz = len(domain.WRF_ETA_LEVELS) - 1
    assert day.data["T2"].shape == (24, 48, 48)
    assert day.data["U"].shape == (24, nz, 48, 49)
    assert day.data["V"].shape == (24, nz, 49, 48)
    assert day.data["W"].shape == (24, nz + 1, 48, 48)


def test_wind_adjustment_reduces_divergence_100_fold_every_hour(day: downscale.DayResult) -> None:
    for before, after in zip(day.div_before, day.div_after, strict=True):
        assert after <= before / 100.0


def test_temperature_follows_the_lapse_rate(day: downscale.DayResult, coarse: downscale.Coarse) -> None:
    g = domain.grid()
    bil = downscale.Bilinear(coarse.lat, coarse.lon, g.lat, g.lon)
    hc = bil(coarse.fields["HGT"])
    t2c = bil(coarse.fields["T2"][1])  # coarse 03 UTC = output step 3
    h = surface.terrain()
    np.testing.assert_allclose(day.data["T2"][3], t2c - 0.0065 * (h - hc), rtol=0, atol=2e-4)
    # on the ridge it is colder than on the plains at the same time
    assert day.data["T2"][20][h > 3500].mean() < day.data["T2"][20][h < 1500].mean() - 10.0


def test_swdown_zero_at_night_and_noaa_by_day(day: downscale.DayResult) -> None:
    g = domain.grid()
    sw = day.data["SWDOWN"]
    assert sw.min() >= 0.0
    assert np.all(sw[6] == 0.0)  # 23 MST
    noon = 19  # 12 MST
    cosz = solar.cos_zenith_utc(dt.datetime(2024, 7, 15, noon), g.lat, g.lon)
    toa = solar.SOLAR_CONSTANT_W_M2 * solar.earth_sun_distance_factor(197) * cosz
    assert np.all(sw[noon] <= toa * 0.8 + 1e-3)  # transmissivity (0.6 + 0.2 cos Z) <= 0.8
    assert np.all(sw[noon] >= toa * 0.6 * 0.6 - 1e-3)  # and at most 40 % cut by full cloud
    assert sw[noon].mean() > 700.0


def test_pbl_height_diurnal_cycle(day: downscale.DayResult) -> None:
    pblh = day.data["PBLH"]
    assert pblh.min() >= 50.0
    night = pblh[8].mean()  # 01 MST
    afternoon = pblh[22].mean()  # 15 MST
    assert night < 800.0
    assert afternoon > 1500.0
    # the mixed layer grows through the morning
    assert np.all(np.diff(pblh[15:23].mean(axis=(1, 2))) > 0)


def test_encroachment_formula() -> None:
    # h^2 = h0^2 + 2 (1 + 2A) / gamma * integral
    integral = np.array([0.0, 5000.0])
    h = bl.convective_height(integral)
    assert h[0] == pytest.approx(bl.NOCTURNAL_START_M)
    assert h[1] == pytest.approx(np.sqrt(150.0**2 + 2 * 1.4 / 0.005 * 5000.0))


def test_winds_physical(day: downscale.DayResult) -> None:
    speed10 = np.hypot(day.data["U10"], day.data["V10"])
    assert speed10.max() < 20.0
    # log-law: 10 m wind is weaker than the lowest-level (about 20 m) wind
    uc = 0.5 * (day.data["U"][:, 0, :, 1:] + day.data["U"][:, 0, :, :-1])
    vc = 0.5 * (day.data["V"][:, 0, 1:, :] + day.data["V"][:, 0, :-1, :])
    assert np.all(speed10 <= np.hypot(uc, vc) + 1e-6)
    # vertical motion on the ridge slopes, almost none over the flat east
    w = np.abs(day.data["W"][20])
    h = surface.terrain()
    assert w[:, h > 2500].mean() > 5 * w[:, :, -5:].mean()
    assert np.all(day.data["UST"] > 0)


def test_humidity_and_pressure_physical(day: downscale.DayResult) -> None:
    q2 = day.data["Q2"]
    assert q2.min() > 0 and q2.max() < 0.03
    psfc = day.data["PSFC"]
    h = surface.terrain()
    assert psfc[0][h > 3500].mean() < psfc[0][h < 1500].mean() - 15_000.0
    p = day.data["P"] + day.data["PB"]
    assert np.all(np.diff(p, axis=1) < 0)  # pressure falls with height
    assert p[:, -1].max() < 6000.0  # to the 5000 Pa model top


def test_the_upper_air_is_a_summer_troposphere_under_a_stratosphere(day: downscale.DayResult) -> None:
    p = (day.data["P"] + day.data["PB"]).astype(np.float64)
    temp = (day.data["T"] + 300.0) * (p / 1.0e5) ** (287.0 / 1004.5)
    z = (day.data["PH"] + day.data["PHB"]) / 9.81
    zm = 0.5 * (z[:, 1:] + z[:, :-1])
    # 500 hPa (about 5.9 km): near -5 C over Denver in July
    k500 = np.argmin(np.abs(p[:, :, 24, 24] - 50_000.0), axis=1)
    t500 = temp[np.arange(24), k500, 24, 24]
    assert np.all((t500 > 258.0) & (t500 < 275.0))
    # the coldest level is the tropopause, 13-17 km up at 205-220 K; it warms above
    coldest = np.argmin(temp[:, :, 24, 24], axis=1)
    assert np.all(
        (zm[np.arange(24), coldest, 24, 24] > 13_000.0) & (zm[np.arange(24), coldest, 24, 24] < 17_000.0)
    )
    assert 205.0 < temp[:, :, 24, 24].min() < 220.0
    assert np.all(temp[:, -1, 24, 24] > temp[np.arange(24), coldest, 24, 24])


def test_a_coarse_file_too_shallow_for_the_column_is_a_clear_error(tmp_path: Path) -> None:
    shallow = tmp_path / "coarse.nc"
    with netCDF4.Dataset(COARSE) as src, netCDF4.Dataset(shallow, "w", format="NETCDF3_CLASSIC") as dst:
        keep = np.flatnonzero(src.variables["level"][:] <= 2500.0)
        for name, dim in src.dimensions.items():
            dst.createDimension(name, len(keep) if name == "level" else len(dim))
        for name, var in src.variables.items():
            out = dst.createVariable(name, var.dtype, var.dimensions)
            out.setncatts({k: var.getncattr(k) for k in var.ncattrs()})
            data = var[:]
            if "level" in var.dimensions:
                data = np.take(data, keep, axis=var.dimensions.index("level"))
            out[:] = data
    rc = downscale.main(["--date", "2024-07-15", "--coarse", str(shallow), "--out", str(tmp_path / "o.nc")])
    assert rc == 3
    assert not (tmp_path / "o.nc").exists()


def test_missing_coarse_variable_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "coarse.nc"
    with netCDF4.Dataset(bad, "w") as ds:
        ds.createDimension("time", 2)
        ds.createVariable("time", "f8", ("time",))
    with pytest.raises(downscale.InputProblem, match="HGT, T2"):
        downscale.read_coarse(bad)
    assert (
        downscale.main(["--date", "2024-07-15", "--coarse", str(bad), "--out", str(tmp_path / "o.nc")]) == 3
    )
    assert not (tmp_path / "o.nc").exists()


def test_date_not_covered_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = downscale.main(["--date", "2024-07-16", "--coarse", str(COARSE), "--out", str(tmp_path / "o.nc")])
    assert rc == 3
    assert "give a coarse file for the --date day" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_date_argument(tmp_path: Path) -> None:
    assert downscale.main(["--date", "July", "--coarse", str(COARSE), "--out", str(tmp_path / "o.nc")]) == 2
