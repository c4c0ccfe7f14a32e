"""One hour of cmaq through its command on synthetic inputs: the I/O API conventions of CONC and CGRID.

The runs take a few seconds: `make test` (slow); the fast tier keeps the argument check and the golden
case `first-hours`, whose comparison covers every header attribute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import cmaq_synthetic
import ctm
import netCDF4
import pytest
from aqdomain import ioapi

DAY = dt.date(2024, 7, 15)


@pytest.fixture(scope="module")
def one_hour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cmaq1h")
    cmaq_synthetic.write_wrfout(root / "wrfout.nc", DAY)
    cmaq_synthetic.write_emissions(root / "emis.nc", DAY)
    out = root / "out"
    out.mkdir()
    args = ["--date", str(DAY), "--wrfout", str(root / "wrfout.nc"), "--emissions", str(root / "emis.nc")]
    assert ctm.main([*args, "--hours", "1", "--outdir", str(out)]) == 0
    return out


@pytest.mark.slow
def test_conc_and_cgrid_follow_the_conventions(
    one_hour: Path, ioapi_conventions: Callable[[Path, int], None]
) -> None:
    for name in ("CONC.nc", "CGRID.nc"):
        ioapi_conventions(one_hour / name, 8)
    with netCDF4.Dataset(one_hour / "CONC.nc") as ds:
        lines = ioapi.split_description(str(ds.FILEDESC))
        history = " ".join(ioapi.split_description(str(ds.HISTORY)))
    assert lines[0].startswith("cmaq (AQcast reference): hourly instantaneous concentrations")
    assert "--date 2024-07-15 --hours 1" in history and "initial state: clean background" in history


@pytest.mark.slow
def test_a_short_run_ends_its_restart_at_its_last_hour(one_hour: Path) -> None:
    with netCDF4.Dataset(one_hour / "CONC.nc") as conc, netCDF4.Dataset(one_hour / "CGRID.nc") as cgrid:
        assert ioapi.read_times(conc) == [dt.datetime(2024, 7, 15, 0)]
        assert ioapi.read_times(cgrid) == [dt.datetime(2024, 7, 15, 1)]


def test_hours_outside_a_day_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--date", str(DAY), "--wrfout", "w.nc", "--emissions", "e.nc", "--outdir", str(tmp_path)]
    assert ctm.main([*args, "--hours", "25"]) == 3
    assert "--hours 25 must be within 1..24" in capsys.readouterr().err
