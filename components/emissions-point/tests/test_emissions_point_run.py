"""emissions-point end to end on a synthetic wrfout: conservation, layering, file convention, bad inputs."""

import csv
import datetime as dt
import warnings
from collections.abc import Callable
from pathlib import Path

import emis_point
import netCDF4
import numpy as np
import plumerise
import pytest
import yaml
from aqdomain import domain, inventory

DAY = dt.date(2024, 7, 15)


@pytest.fixture(scope="module")
def output(synthetic_wrfout: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("point") / "emis_point.nc"
    assert (
        emis_point.main(["--date", DAY.isoformat(), "--wrfout", str(synthetic_wrfout), "--out", str(out)])
        == 0
    )
    return out


def _read(path: Path) -> dict[str, np.ndarray]:
    with netCDF4.Dataset(path) as ds:
        return {name: np.asarray(ds.variables[name][:], dtype=np.float64) for name in emis_point.SPECIES}


def test_file_is_an_ioapi_grdded3_file_with_eight_layers(
    output: Path, ioapi_conventions: Callable[[Path, int], None]
) -> None:
    with netCDF4.Dataset(output) as ds:
        assert ds.getncattr("VAR-LIST") == "NO              NO2             ROC             "
        assert (ds.FTYPE, ds.NLAYS, ds.NROWS, ds.NCOLS) == (1, 8, 48, 48)
        assert ds.variables["NO"].shape == (24, 8, 48, 48)
    ioapi_conventions(output, 8)


def test_no_negative_emissions_and_only_at_stack_cells(output: Path) -> None:
    data = _read(output)
    cells = {(s.row, s.col) for s in inventory.point_sources()}
    for arr in data.values():
        assert arr.min() >= 0.0
        nonzero = {(int(r), int(c)) for r, c in zip(*np.nonzero(arr.sum(axis=(0, 1))), strict=True)}
        assert nonzero <= cells


# References computed by hand from the committed inventory files (data, read with csv/yaml), not through
# aqdomain.inventory: annual tonnes -> g/s over 8760 h; NOX is NO2-equivalent mass, 46.0055 g/mol, split by
# mole fraction; VOC -> moles of carbon with the profile's grams per mole C; the hour's factor is
# diurnal x weekday x month, each over its mean, in local standard time (UTC-7).
NO2_MOLAR_MASS = 46.0055
SECONDS_PER_YEAR = 8760 * 3600.0
DATA = Path(inventory.__file__).resolve().parent / "data"


def _hand_rates() -> np.ndarray:
    """Expected domain totals (24, 3) of NO, NO2, ROC in mol/s for every hour of DAY."""
    profiles = yaml.safe_load((DATA / "profiles.yaml").read_text())
    with (DATA / "point_sources.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6
    expected = np.zeros((24, 3))
    for row in rows:
        g_nox = float(row["nox_t_yr"]) * 1.0e6 / SECONDS_PER_YEAR
        g_voc = float(row["voc_t_yr"]) * 1.0e6 / SECONDS_PER_YEAR
        nox = profiles["speciation"][row["nox_speciation"]]
        voc = profiles["speciation"][row["voc_speciation"]]
        mean = np.array(
            [
                g_nox * nox["NO"] / NO2_MOLAR_MASS,
                g_nox * nox["NO2"] / NO2_MOLAR_MASS,
                g_voc / voc["grams_per_mole_carbon"],
            ]
        )
        prof = profiles["temporal"][row["temporal"]]
        for hour in range(24):
            local = dt.datetime(DAY.year, DAY.month, DAY.day, hour) - dt.timedelta(hours=7)
            factor = (
                prof["diurnal"][local.hour] / np.mean(prof["diurnal"])
                * prof["weekly"][local.weekday()] / np.mean(prof["weekly"])
                * prof["monthly"][local.month - 1] / np.mean(prof["monthly"])
            )  # fmt: skip
            expected[hour] += mean * factor
    return expected


def test_hand_reference_of_the_coal_plant() -> None:
    # 6500 t/yr of NOX as NO2 = 206.11 g/s = 4.480 mol/s, 90 % of it NO: 4.0322 mol/s of NO on average
    g_s = 6500.0 * 1e6 / (8760 * 3600.0)
    assert g_s == pytest.approx(206.11, abs=0.01)
    assert 0.9 * g_s / NO2_MOLAR_MASS == pytest.approx(4.0322, abs=1e-4)


def test_layer_sums_conserve_the_inventory_hour_by_hour(output: Path) -> None:
    data = _read(output)
    got = np.stack([data[sp].sum(axis=(1, 2, 3)) for sp in emis_point.SPECIES], axis=1)
    np.testing.assert_allclose(got, _hand_rates(), rtol=2e-6)


def test_nox_is_split_90_10_by_mole_for_combustion_sources(output: Path) -> None:
    data = _read(output)
    src = inventory.point_sources()[0]
    assert src.nox_speciation == "nox_combustion"
    no = data["NO"][:, :, src.row, src.col].sum()
    no2 = data["NO2"][:, :, src.row, src.col].sum()
    assert no / (no + no2) == pytest.approx(0.9, rel=1e-6)


def test_tall_hot_stack_goes_aloft_and_emits_nothing_in_layer_one(output: Path) -> None:
    data = _read(output)
    plant = inventory.point_sources()[0]  # 152 m, 6 m diameter, 420 K
    column = data["NO"][:, :, plant.row, plant.col]
    assert np.all(column[:, 0] == 0.0)
    mean_height = (column * domain.layer_midpoints()).sum() / column.sum()
    assert 200.0 < mean_height < 1600.0


def test_plume_hour_uses_the_isc3_chain() -> None:
    src = inventory.point_sources()[0]
    plume = emis_point.plume_hour(src, 293.0, 5.0, 0.0)
    assert plumerise.CLASS_NAMES[plume.stability] == "D"
    stack = plumerise.Stack(
        src.stack_height_m, src.stack_diameter_m, src.exit_velocity_m_s, src.exit_temperature_k
    )
    u = 5.0 * (src.stack_height_m / 10.0) ** 0.15
    assert plume.wind == pytest.approx(u)
    assert plume.rise.rise == pytest.approx(38.71 * plumerise.buoyancy_flux(stack, 293.0) ** 0.6 / u)
    assert plume.fractions.sum() == pytest.approx(1.0)
    night_calm = emis_point.plume_hour(src, 293.0, 1.0, 0.0)
    assert plumerise.CLASS_NAMES[night_calm.stability] == "F"


def test_opens_with_pseudonetcdf_ioapi(output: Path) -> None:
    import PseudoNetCDF as pnc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PseudoNetCDF's own deprecation and IOAPI_ISPH notices
        f = pnc.pncopen(str(output), format="ioapi")
        times = f.getTimes()
    assert len(times) == 24
    assert f.variables["ROC"].shape == (24, 8, 48, 48)


def test_wrong_date_is_a_clear_error(
    synthetic_wrfout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "emis.nc"
    assert (
        emis_point.main(["--date", "2023-01-01", "--wrfout", str(synthetic_wrfout), "--out", str(out)]) == 3
    )
    assert "Times lacks 24 of the 24 hours of 2023-01-01" in capsys.readouterr().err
    assert not out.exists()


def test_missing_wind_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "wrfout_d01.nc"
    with netCDF4.Dataset(bad, "w") as ds:
        ds.createDimension("Time", None)
        ds.createDimension("DateStrLen", 19)
        ds.createVariable("Times", "S1", ("Time", "DateStrLen"))
        ds.createVariable("T2", "f4", ("Time",))
    assert (
        emis_point.main(["--date", "2024-07-15", "--wrfout", str(bad), "--out", str(tmp_path / "o.nc")]) == 3
    )
    assert "variable U10 is missing" in capsys.readouterr().err
