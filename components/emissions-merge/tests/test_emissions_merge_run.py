"""emissions-merge: sums of the sectors, layer placement, ROC carbon weights, I/O API file, bad inputs."""

import datetime as dt
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import emis_merge
import netCDF4
import numpy as np
import pytest
from aqdomain import domain, ioapi

DAY = dt.date(2024, 7, 15)
START = dt.datetime(2024, 7, 15)


@pytest.fixture(scope="module")
def sectors(
    bench: ModuleType, synthetic_wrfout: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The three sector files made by the real components (native runs of their component.yaml commands)."""
    work = tmp_path_factory.mktemp("sectors")
    paths = {}
    for name in ("biogenic", "point", "area"):
        run = bench.run_native(
            f"emissions-{name}", {"date": DAY.isoformat()}, {"wrfout": synthetic_wrfout}, work / name
        )
        paths[name] = run.outputs[f"emis_{name}"]
    return paths


@pytest.fixture(scope="module")
def merged(sectors: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("merged") / "emis_merged.nc"
    args = ["--date", DAY.isoformat(), "--out", str(out)]
    for name, path in sectors.items():
        args += [f"--{name}", str(path)]
    assert emis_merge.main(args) == 0
    return out


def _vars(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    with netCDF4.Dataset(path) as ds:
        return {n: np.asarray(ds.variables[n][:], dtype=np.float64) for n in names}


def test_totals_equal_the_sum_of_the_sectors(merged: Path, sectors: dict[str, Path]) -> None:
    out = _vars(merged, ("NO", "NO2", "ROC"))
    bio = _vars(sectors["biogenic"], ("ISOP", "TERP"))
    point = _vars(sectors["point"], ("NO", "NO2", "ROC"))
    area = _vars(sectors["area"], ("NO", "NO2", "ROC"))
    for sp in ("NO", "NO2"):
        expected = point[sp].copy()
        expected[:, :1] += area[sp]
        np.testing.assert_allclose(out[sp], expected, rtol=1e-6, atol=1e-12)
    roc = point["ROC"].copy()
    roc[:, :1] += area["ROC"] + 5.0 * bio["ISOP"] + 10.0 * bio["TERP"]
    np.testing.assert_allclose(out["ROC"], roc, rtol=1e-6, atol=1e-12)
    # domain totals too, hour by hour
    bio_roc = 5.0 * bio["ISOP"].sum(axis=(1, 2, 3)) + 10.0 * bio["TERP"].sum(axis=(1, 2, 3))
    total = point["ROC"].sum(axis=(1, 2, 3)) + area["ROC"].sum(axis=(1, 2, 3)) + bio_roc
    np.testing.assert_allclose(out["ROC"].sum(axis=(1, 2, 3)), total, rtol=1e-5)


def test_surface_sectors_only_in_layer_one(merged: Path, sectors: dict[str, Path]) -> None:
    out = _vars(merged, ("NO",))["NO"]
    point = _vars(sectors["point"], ("NO",))["NO"]
    np.testing.assert_allclose(out[:, 1:], point[:, 1:], rtol=1e-6, atol=0)
    assert out[:, 0].sum() > point[:, 0].sum()


def test_no_negative_emissions(merged: Path) -> None:
    for arr in _vars(merged, ("NO", "NO2", "ROC")).values():
        assert arr.min() >= 0.0


def test_header_is_the_io_api_convention(
    merged: Path, ioapi_conventions: Callable[[Path, int], None]
) -> None:
    ioapi_conventions(merged, 8)
    with netCDF4.Dataset(merged) as ds:
        assert ds.file_format == "NETCDF3_CLASSIC"
        assert ds.getncattr("VAR-LIST") == "NO              NO2             ROC             "
        assert (ds.FTYPE, ds.NLAYS, ds.NVARS, ds.GDTYP) == (1, 8, 3, 2)
        assert (ds.SDATE, ds.STIME, ds.TSTEP) == (2024197, 0, 10000)
        assert ds.variables["TFLAG"].shape == (24, 3, 2)
        for name in ("NO", "NO2", "ROC"):
            v = ds.variables[name]
            assert (len(v.long_name), len(v.units), len(v.var_desc)) == (16, 16, 80)
            assert v.units.strip() == "moles/s"
        assert (ds.CDATE, ds.CTIME) == (ds.SDATE, ds.STIME)  # reproducible: no wall-clock stamps


def test_opens_in_pseudonetcdf_as_ioapi(merged: Path) -> None:
    import PseudoNetCDF as pnc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PseudoNetCDF's own deprecation and IOAPI_ISPH notices
        f = pnc.pncopen(str(merged), format="ioapi")
        times = f.getTimes()
        lon, lat = f.ij2ll(0, 0)
    assert type(f).__name__ == "ioapi"
    assert [t.replace(tzinfo=None) for t in times] == domain.hours_of_day(DAY)
    g = domain.grid()
    assert float(lat) == pytest.approx(float(g.lat[0, 0]), abs=1e-4)
    assert float(lon) == pytest.approx(float(g.lon[0, 0]), abs=1e-4)
    assert set(f.variables) >= {"TFLAG", "NO", "NO2", "ROC"}


def test_log_reports_sector_and_total_moles(
    sectors: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--date", DAY.isoformat(), "--out", str(tmp_path / "m.nc")]
    for name, path in sectors.items():
        args += [f"--{name}", str(path)]
    assert emis_merge.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in lines[2:]}
    assert set(rows) == {"biogenic", "point", "area", "total"}
    sums = np.sum([rows[s] for s in ("biogenic", "point", "area")], axis=0)
    np.testing.assert_allclose(rows["total"], sums, atol=2e-3)
    assert rows["biogenic"][:2] == [0.0, 0.0] and rows["biogenic"][2] > 0.0


def _sector_file(
    path: Path, names: tuple[str, ...], nlays: int, start: dt.datetime = START, value: float = 1.0
) -> Path:
    data = {ioapi.Variable(n, "moles/s", n): np.full((24, nlays, 48, 48), value) for n in names}
    ioapi.write_gridded(path, data, start=start)
    return path


def _args(tmp_path: Path, bio: Path, point: Path, area: Path) -> list[str]:
    return [
        "--date",
        "2024-07-15",
        "--biogenic",
        str(bio),
        "--point",
        str(point),
        "--area",
        str(area),
        "--out",
        str(tmp_path / "out.nc"),
    ]


def test_small_synthetic_sectors_sum_exactly(tmp_path: Path) -> None:
    bio = _sector_file(tmp_path / "b.nc", ("ISOP", "TERP"), 1, value=0.5)
    point = _sector_file(tmp_path / "p.nc", ("NO", "NO2", "ROC"), 8, value=1.0)
    area = _sector_file(tmp_path / "a.nc", ("NO", "NO2", "ROC"), 1, value=2.0)
    assert emis_merge.main(_args(tmp_path, bio, point, area)) == 0
    out = _vars(tmp_path / "out.nc", ("NO", "ROC"))
    assert out["NO"][0, :, 0, 0].tolist() == [3.0, 1, 1, 1, 1, 1, 1, 1]
    assert out["ROC"][0, :, 0, 0].tolist() == [1.0 + 2.0 + 2.5 + 5.0, 1, 1, 1, 1, 1, 1, 1]


def test_swapped_inputs_are_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    point = _sector_file(tmp_path / "p.nc", ("NO", "NO2", "ROC"), 8)
    area = _sector_file(tmp_path / "a.nc", ("NO", "NO2", "ROC"), 1)
    assert emis_merge.main(_args(tmp_path, point, point, area)) == 3
    assert "variable ISOP is missing" in capsys.readouterr().err
    assert not (tmp_path / "out.nc").exists()


def test_wrong_day_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bio = _sector_file(tmp_path / "b.nc", ("ISOP", "TERP"), 1, start=dt.datetime(2024, 7, 14))
    point = _sector_file(tmp_path / "p.nc", ("NO", "NO2", "ROC"), 8)
    area = _sector_file(tmp_path / "a.nc", ("NO", "NO2", "ROC"), 1)
    assert emis_merge.main(_args(tmp_path, bio, point, area)) == 3
    assert "rerun emissions-biogenic with --date 2024-07-15" in capsys.readouterr().err


def test_wrong_grid_and_unreadable_files_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bio = _sector_file(tmp_path / "b.nc", ("ISOP", "TERP"), 1)
    point = _sector_file(tmp_path / "p.nc", ("NO", "NO2", "ROC"), 8)
    area = _sector_file(tmp_path / "a.nc", ("NO", "NO2", "ROC"), 1)
    with netCDF4.Dataset(area, "a") as ds:
        ds.setncattr("XCELL", 12000.0)
    assert emis_merge.main(_args(tmp_path, bio, point, area)) == 3
    assert "XCELL = 12000.0, the reference grid has 4000.0" in capsys.readouterr().err
    junk = tmp_path / "junk.nc"
    junk.write_text("no")
    assert emis_merge.main(_args(tmp_path, bio, point, junk)) == 3
    assert "cannot open as netCDF" in capsys.readouterr().err


def test_negative_input_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bio = _sector_file(tmp_path / "b.nc", ("ISOP", "TERP"), 1)
    point = _sector_file(tmp_path / "p.nc", ("NO", "NO2", "ROC"), 8, value=-1.0)
    area = _sector_file(tmp_path / "a.nc", ("NO", "NO2", "ROC"), 1)
    assert emis_merge.main(_args(tmp_path, bio, point, area)) == 3
    assert "negative" in capsys.readouterr().err
