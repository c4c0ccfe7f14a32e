"""emissions-area: surrogate allocation, temporal profiles, speciation, file convention, bad inputs."""

import datetime as dt
import warnings
from collections.abc import Callable
from pathlib import Path

import emis_area
import netCDF4
import numpy as np
import pytest
from aqdomain import domain, inventory, surface

DAY = dt.date(2024, 7, 15)  # a Monday in July


@pytest.fixture(scope="module")
def output(synthetic_wrfout: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("area") / "emis_area.nc"
    assert (
        emis_area.main(["--date", DAY.isoformat(), "--wrfout", str(synthetic_wrfout), "--out", str(out)]) == 0
    )
    return out


def _read(path: Path) -> dict[str, np.ndarray]:
    with netCDF4.Dataset(path) as ds:
        return {name: np.asarray(ds.variables[name][:], dtype=np.float64) for name in emis_area.SPECIES}


def test_file_is_an_ioapi_grdded3_file_with_one_layer(
    output: Path, ioapi_conventions: Callable[[Path, int], None]
) -> None:
    ioapi_conventions(output, 1)
    with netCDF4.Dataset(output) as ds:
        assert ds.getncattr("VAR-LIST") == "NO              NO2             ROC             "
        assert (ds.FTYPE, ds.NLAYS, ds.NROWS, ds.NCOLS) == (1, 1, 48, 48)
        assert ds.variables["ROC"].shape == (24, 1, 48, 48)


def test_no_negative_emissions(output: Path) -> None:
    for arr in _read(output).values():
        assert arr.min() >= 0.0 and arr.max() > 0.0


def test_daily_total_equals_inventory_with_profiles(output: Path) -> None:
    data = _read(output)
    inv = inventory.area_inventory()
    expected = dict.fromkeys(emis_area.SPECIES, 0.0)
    for sector, spec in inv["sectors"].items():
        nox = sum(inv["emissions"][z][sector]["NOX"] for z in inv["emissions"])
        voc = sum(inv["emissions"][z][sector]["VOC"] for z in inv["emissions"])
        mean_f = np.mean([inventory.temporal_factor(spec["temporal"], w) for w in domain.hours_of_day(DAY)])
        g_per_s = 1e6 / (8760 * 3600.0)
        nox_split = inventory.profiles()["speciation"][spec["nox_speciation"]]
        voc_spec = inventory.profiles()["speciation"][spec["voc_speciation"]]
        expected["NO"] += nox * g_per_s * nox_split["NO"] / 46.0055 * mean_f
        expected["NO2"] += nox * g_per_s * nox_split["NO2"] / 46.0055 * mean_f
        expected["ROC"] += voc * g_per_s / voc_spec["grams_per_mole_carbon"] * mean_f
    for sp in emis_area.SPECIES:
        assert data[sp].sum(axis=(1, 2, 3)).mean() == pytest.approx(expected[sp], rel=1e-6)


def test_zone_totals_are_conserved_and_follow_the_surrogate() -> None:
    zones = surface.zones()
    inv = inventory.area_inventory()
    grid = inventory.area_annual_grid("residential", "VOC")
    pop = surface.population()
    for k, zone in enumerate(("urban_core", "suburban", "rural")):
        mask = zones == k
        assert grid[mask].sum() == pytest.approx(inv["emissions"][zone]["residential"]["VOC"], rel=1e-9)
        # population surrogate: per-capita emissions are uniform within a zone
        per_capita = grid[mask] / pop[mask]
        np.testing.assert_allclose(per_capita, per_capita[0], rtol=1e-9)


def test_city_emits_most_and_rush_hours_show(output: Path) -> None:
    no = _read(output)["NO"][:, 0]
    daily = no.sum(axis=0)
    zones = surface.zones()
    assert daily[zones == 0].mean() > 5 * daily[zones == 2].mean()
    total = no.sum(axis=(1, 2))
    local = [(h + domain.LOCAL_UTC_OFFSET_H) % 24 for h in range(24)]
    by_local = dict(zip(local, total, strict=True))
    assert by_local[7] > 3 * by_local[3]  # morning rush vs the middle of the night
    assert by_local[17] > 3 * by_local[3]


def test_weekend_is_lower_than_weekday(synthetic_wrfout: Path) -> None:
    monday = emis_area.area_emissions(domain.hours_of_day(dt.date(2024, 7, 15)))[0]["NO"].sum()
    sunday = emis_area.area_emissions(domain.hours_of_day(dt.date(2024, 7, 14)))[0]["NO"].sum()
    assert sunday < 0.9 * monday


def test_nox_split_by_mole(output: Path) -> None:
    data = _read(output)
    share = data["NO"].sum() / (data["NO"].sum() + data["NO2"].sum())
    assert 0.85 <= share <= 0.9  # mobile (85 %) and combustion (90 %) profiles


def test_opens_with_pseudonetcdf_ioapi(output: Path) -> None:
    import PseudoNetCDF as pnc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PseudoNetCDF's own deprecation and IOAPI_ISPH notices
        f = pnc.pncopen(str(output), format="ioapi")
        assert len(f.getTimes()) == 24


def test_log_lists_every_sector(
    synthetic_wrfout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        emis_area.main(
            ["--date", "2024-07-15", "--wrfout", str(synthetic_wrfout), "--out", str(tmp_path / "a.nc")]
        )
        == 0
    )
    text = capsys.readouterr().out
    for sector in inventory.area_sectors():
        assert sector in text


def test_wrong_date_and_wrong_grid_are_clear_errors(
    synthetic_wrfout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "emis.nc"
    assert emis_area.main(["--date", "2024-07-20", "--wrfout", str(synthetic_wrfout), "--out", str(out)]) == 3
    assert "Times lacks 24 of the 24 hours of 2024-07-20" in capsys.readouterr().err
    small = tmp_path / "wrfout_d01.nc"
    with netCDF4.Dataset(small, "w") as ds:
        ds.createDimension("Time", None)
        ds.createDimension("DateStrLen", 19)
        ds.createDimension("south_north", 10)
        ds.createDimension("west_east", 12)
        tv = ds.createVariable("Times", "S1", ("Time", "DateStrLen"))
        tv[:] = np.array(
            [list(w.strftime("%Y-%m-%d_%H:%M:%S")) for w in domain.hours_of_day(DAY)], dtype="S1"
        )
    assert emis_area.main(["--date", "2024-07-15", "--wrfout", str(small), "--out", str(out)]) == 3
    assert "grid (south_north, west_east) = (10, 12)" in capsys.readouterr().err
    assert not out.exists()
