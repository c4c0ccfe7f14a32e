"""emissions-biogenic end to end on a synthetic wrfout: physics sanity, file convention, bad inputs."""

import datetime as dt
import warnings
from collections.abc import Callable
from pathlib import Path

import emis_biogenic
import netCDF4
import numpy as np
import pytest
from aqdomain import domain, solar

DAY = dt.date(2024, 7, 15)


@pytest.fixture(scope="module")
def output(synthetic_wrfout: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bio") / "emis_biogenic.nc"
    assert (
        emis_biogenic.main(["--date", DAY.isoformat(), "--wrfout", str(synthetic_wrfout), "--out", str(out)])
        == 0
    )
    return out


def _read(path: Path) -> dict[str, np.ndarray]:
    with netCDF4.Dataset(path) as ds:
        return {name: np.asarray(ds.variables[name][:]) for name in ("ISOP", "TERP", "TFLAG")}


def test_file_is_an_ioapi_grdded3_file_with_one_layer(
    output: Path, ioapi_conventions: Callable[[Path, int], None]
) -> None:
    ioapi_conventions(output, 1)
    with netCDF4.Dataset(output) as ds:
        assert ds.getncattr("VAR-LIST") == "ISOP            TERP            "
        assert (ds.FTYPE, ds.NLAYS, ds.NROWS, ds.NCOLS, ds.GDTYP) == (1, 1, 48, 48, 2)
        assert (ds.SDATE, ds.STIME, ds.TSTEP) == (2024197, 0, 10000)
        assert ds.variables["ISOP"].shape == (24, 1, 48, 48)
        assert ds.variables["ISOP"].units.strip() == "moles/s"
        assert ds.variables["TFLAG"][23, 0].tolist() == [2024197, 230000]


def test_no_negative_emissions(output: Path) -> None:
    data = _read(output)
    assert data["ISOP"].min() >= 0.0 and data["TERP"].min() >= 0.0
    assert data["ISOP"].max() > 0.0 and data["TERP"].max() > 0.0


def test_no_isoprene_at_night(output: Path) -> None:
    iso = _read(output)["ISOP"][:, 0]
    g = domain.grid()
    night_cells = 0
    for k, when in enumerate(domain.hours_of_day(DAY)):
        night = solar.zenith_utc(when, g.lat, g.lon) >= 90.0
        night_cells += int(night.sum())
        assert np.all(iso[k][night] == 0.0), f"isoprene at night at {when}"
    assert night_cells > 24 * 48 * 48 // 4  # the day does have a night to test


def test_monoterpenes_follow_temperature_day_and_night(output: Path, synthetic_wrfout: Path) -> None:
    terp = _read(output)["TERP"][:, 0]
    with netCDF4.Dataset(synthetic_wrfout) as ds:
        t2 = np.asarray(ds.variables["T2"][:], dtype=np.float64)
    cell = np.unravel_index(np.argmax(terp.sum(axis=0)), terp.shape[1:])
    series = terp[(slice(None), *cell)]
    assert series.min() > 0.0  # emitted at night too
    # E ~ exp(0.09 (T - 303)): the ratio of any two hours is fixed by their temperatures
    ratio = series / series[0]
    expected = np.exp(0.09 * (t2[(slice(None), *cell)] - t2[(0, *cell)]))
    np.testing.assert_allclose(ratio, expected, rtol=2e-5)


def test_isoprene_peaks_near_local_noon_over_forest(output: Path) -> None:
    iso = _read(output)["ISOP"][:, 0]
    total = iso.sum(axis=(1, 2))
    peak_local = (int(np.argmax(total)) + domain.LOCAL_UTC_OFFSET_H) % 24
    assert 11 <= peak_local <= 15
    ef_iso, _ = emis_biogenic.emission_factors()
    forest = ef_iso > 3000.0
    assert iso.sum(axis=0)[forest].mean() > 10 * iso.sum(axis=0)[~forest].mean()


def test_emissions_match_the_formula_at_one_cell(output: Path, synthetic_wrfout: Path) -> None:
    import guenther

    iso = _read(output)["ISOP"][:, 0]
    with netCDF4.Dataset(synthetic_wrfout) as ds:
        t2 = float(ds.variables["T2"][19, 20, 5])
        sw = float(ds.variables["SWDOWN"][19, 20, 5])
    ef_iso, _ = emis_biogenic.emission_factors()
    flux = ef_iso[20, 5] * guenther.light_factor(0.45 * 4.57 * sw) * guenther.temperature_factor(t2)
    expected = flux * 4000.0 * 4000.0 / (68.12 * 1.0e6 * 3600.0)
    assert iso[19, 20, 5] == pytest.approx(expected, rel=1e-6)


def test_opens_with_pseudonetcdf_ioapi(output: Path) -> None:
    import PseudoNetCDF as pnc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PseudoNetCDF's own deprecation and IOAPI_ISPH notices
        f = pnc.pncopen(str(output), format="ioapi")
        times = f.getTimes()
    assert len(times) == 24
    assert times[0].replace(tzinfo=None) == dt.datetime(2024, 7, 15)
    assert f.variables["ISOP"].shape == (24, 1, 48, 48)


def test_noaa_solar_zenith_check_values_used_for_the_night_test() -> None:
    # science.md section 8: the solar position the night test relies on
    assert float(solar.solar_position(172, 12.0, 40.0, -105.0, timezone=-7.0).zenith_deg) == pytest.approx(
        16.55, abs=0.01
    )
    assert float(solar.solar_position(355, 12.0, 40.0, 0.0).zenith_deg) == pytest.approx(63.42, abs=0.01)


def test_wrong_date_is_a_clear_error(
    synthetic_wrfout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "emis.nc"
    code = emis_biogenic.main(["--date", "2024-07-16", "--wrfout", str(synthetic_wrfout), "--out", str(out)])
    assert code == 3
    err = capsys.readouterr().err
    assert "Times lacks 24 of the 24 hours of 2024-07-16" in err and "wrfout_d01.nc" in err
    assert not out.exists()


def test_missing_variable_and_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "wrfout_d01.nc"
    with netCDF4.Dataset(bad, "w") as ds:
        ds.createDimension("Time", None)
        ds.createDimension("DateStrLen", 19)
        ds.createVariable("Times", "S1", ("Time", "DateStrLen"))
    assert (
        emis_biogenic.main(["--date", "2024-07-15", "--wrfout", str(bad), "--out", str(tmp_path / "o.nc")])
        == 3
    )
    assert "variable T2 is missing" in capsys.readouterr().err
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    assert (
        emis_biogenic.main(["--date", "2024-07-15", "--wrfout", str(junk), "--out", str(tmp_path / "o.nc")])
        == 3
    )
    assert "cannot open as netCDF" in capsys.readouterr().err
    assert not (tmp_path / "o.nc").exists()
