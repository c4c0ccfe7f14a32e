"""The cmaq command end to end on synthetic contract inputs: files, restart chaining, determinism, errors."""

from __future__ import annotations

import datetime as dt
import filecmp
import shutil
from pathlib import Path

import cmaq_synthetic
import ctm
import netCDF4
import numpy as np
import pytest
from aqdomain import domain

# Three full cmaq days (~30 s): part of `make test`, not of the seconds-long `make unit` tier.
pytestmark = pytest.mark.slow

DAY1 = dt.date(2024, 7, 15)
DAY2 = dt.date(2024, 7, 16)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Day 1 twice (clean start) and day 2 from day 1's restart."""
    root = tmp_path_factory.mktemp("cmaq")
    paths: dict[str, Path] = {}
    for day in (DAY1, DAY2):
        cmaq_synthetic.write_wrfout(root / f"wrfout_{day}.nc", day)
        cmaq_synthetic.write_emissions(root / f"emis_{day}.nc", day)
    for name, day, restart in (("a", DAY1, None), ("b", DAY1, None), ("day2", DAY2, "a")):
        out = root / name
        out.mkdir()
        args = ["--date", str(day), "--wrfout", str(root / f"wrfout_{day}.nc")]
        args += ["--emissions", str(root / f"emis_{day}.nc"), "--outdir", str(out)]
        args += [
            "--restart",
            str(root / restart / "CGRID.nc") if restart else str(root / "absent" / "CGRID.nc"),
        ]
        assert ctm.main(args) == 0
        paths[name] = out
    paths["root"] = root
    return paths


@pytest.mark.slow
def test_conc_file_follows_the_ioapi_conc_convention(runs: dict[str, Path]) -> None:
    with netCDF4.Dataset(runs["a"] / "CONC.nc") as ds:
        assert ds.file_format == "NETCDF3_CLASSIC"
        assert {d: len(ds.dimensions[d]) for d in ("TSTEP", "LAY", "ROW", "COL", "VAR")} == {
            "TSTEP": 24,
            "LAY": 8,
            "ROW": 48,
            "COL": 48,
            "VAR": 7,
        }
        assert ds.getncattr("VAR-LIST") == "".join(
            s.ljust(16) for s in ("O3", "NO", "NO2", "ROC", "RP", "SGN", "SNGN")
        )
        assert int(ds.SDATE) == 2024197 and int(ds.STIME) == 0 and int(ds.TSTEP) == 10000
        tflag = ds["TFLAG"][:]
        assert tflag[23, 0, 0] == 2024197 and tflag[23, 0, 1] == 230000
        for name in ("O3", "NO", "NO2", "ROC", "RP", "SGN", "SNGN"):
            var = ds[name]
            assert (
                var.units == "ppmV".ljust(16) and var.long_name == name.ljust(16) and len(var.var_desc) == 80
            )
            data = var[:]
            assert np.all(np.isfinite(data)) and data.min() >= 0.0
        o3 = ds["O3"][:, 0] * 1000.0
        no = ds["NO"][:, 0] * 1000.0
    # 00 UTC holds the clean background; in the afternoon (20 UTC = 13 MST) ozone is produced downwind of the
    # city, while at night (10 UTC = 03 MST) NO titrates it over the city
    assert o3[0].min() == pytest.approx(40.0, abs=1e-3)
    assert o3[20].max() > 45.0
    assert o3[10].min() < 5.0 and no[10].max() > 5.0
    with netCDF4.Dataset(runs["a"] / "CGRID.nc") as ds:
        assert len(ds.dimensions["TSTEP"]) == 1
        assert tuple(ds["TFLAG"][0, 0]) == (2024198, 0)


@pytest.mark.slow
def test_conc_and_cgrid_open_in_pseudonetcdf_as_ioapi(
    runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOAPI_ISPH", "6370000.")  # the I/O API sphere setting (else PseudoNetCDF warns)
    import PseudoNetCDF as pnc

    conc = pnc.pncopen(str(runs["a"] / "CONC.nc"), format="ioapi")
    times = conc.getTimes()
    assert len(times) == 24
    assert (times[0].year, times[0].month, times[0].day, times[0].hour) == (2024, 7, 15, 0)
    assert times[-1].hour == 23
    assert conc.variables["O3"].shape == (24, 8, 48, 48)
    lon, lat = conc.ij2ll(0, 0)  # pyproj's Lambert conformal vs aqdomain's own formulas, SW cell centre
    g = domain.grid()
    assert lat == pytest.approx(g.lat[0, 0], abs=1e-4) and lon == pytest.approx(g.lon[0, 0], abs=1e-4)
    cgrid = pnc.pncopen(str(runs["a"] / "CGRID.nc"), format="ioapi")
    (when,) = cgrid.getTimes()
    assert (when.month, when.day, when.hour) == (7, 16, 0)


@pytest.mark.slow
def test_two_runs_give_identical_bytes(runs: dict[str, Path]) -> None:
    for name in ("CONC.nc", "CGRID.nc"):
        assert filecmp.cmp(runs["a"] / name, runs["b"] / name, shallow=False)


@pytest.mark.slow
def test_day_two_starts_from_day_one_restart(runs: dict[str, Path]) -> None:
    with netCDF4.Dataset(runs["a"] / "CGRID.nc") as r, netCDF4.Dataset(runs["day2"] / "CONC.nc") as c:
        assert int(c.SDATE) == 2024198
        for name in ("O3", "NO", "NO2", "ROC", "SGN", "SNGN"):
            np.testing.assert_array_equal(c[name][0], r[name][0])
        # the restart carries the previous evening's chemistry, not the clean background
        assert abs(float(c["O3"][0, 0].min()) * 1000.0 - 40.0) > 1.0


def test_restart_of_the_wrong_day_is_refused(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = runs["root"]
    args = [
        "--date",
        str(DAY1),
        "--wrfout",
        str(root / f"wrfout_{DAY1}.nc"),
        "--emissions",
        str(root / f"emis_{DAY1}.nc"),
    ]
    args += ["--outdir", str(root), "--restart", str(runs["day2"] / "CGRID.nc")]
    assert ctm.main(args) == 3
    err = capsys.readouterr().err
    assert "CGRID.nc" in err and "2024-07-17 00:00" in err and "previous day" in err


def test_missing_and_mismatched_inputs_give_clear_errors(
    tmp_path: Path, runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = runs["root"]
    base = ["--date", str(DAY2), "--outdir", str(tmp_path)]
    # emissions of another day
    assert (
        ctm.main(
            [*base, "--wrfout", str(root / f"wrfout_{DAY2}.nc"), "--emissions", str(root / f"emis_{DAY1}.nc")]
        )
        == 3
    )
    assert "TFLAG must hold the 24 hours of 2024-07-16" in capsys.readouterr().err
    # no wrfout
    assert (
        ctm.main([*base, "--wrfout", str(tmp_path / "none.nc"), "--emissions", str(root / f"emis_{DAY2}.nc")])
        == 3
    )
    assert "does not exist" in capsys.readouterr().err
    # a wrfout lacking a variable
    broken = tmp_path / "broken.nc"
    shutil.copy(root / f"wrfout_{DAY2}.nc", broken)
    with netCDF4.Dataset(broken, "a") as ds:
        ds.renameVariable("PBLH", "PBLH_X")
    assert ctm.main([*base, "--wrfout", str(broken), "--emissions", str(root / f"emis_{DAY2}.nc")]) == 3
    assert "variable PBLH is missing" in capsys.readouterr().err
    assert not (tmp_path / "CONC.nc").exists()
