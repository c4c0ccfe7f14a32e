"""Make the wrf component modules and the shared libs importable (pytest uses --import-mode=importlib),
and share one downscaled golden day (and the wrfout written from it) between the test modules."""

import datetime as dt
import sys
from pathlib import Path

import pytest

COMPONENT = Path(__file__).resolve().parents[1]
for path in (COMPONENT, COMPONENT.parents[1] / "libs"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import downscale  # noqa: E402
import wrfout  # noqa: E402

COARSE = COMPONENT / "tests" / "golden" / "one-day" / "inputs" / "coarse.nc"
DAY = dt.date(2024, 7, 15)


@pytest.fixture(scope="session")
def day_result() -> downscale.DayResult:
    """The golden case's day, downscaled in memory."""
    return downscale.downscale_day(downscale.read_coarse(COARSE), DAY, log=lambda _line: None)


@pytest.fixture(scope="session")
def fresh_wrfout(day_result: downscale.DayResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """That day written by the writer under test (never the committed expected file)."""
    path = tmp_path_factory.mktemp("wrf") / "wrfout_d01.nc"
    wrfout.write_wrfout(path, dt.datetime(DAY.year, DAY.month, DAY.day), day_result.times, day_result.data)
    return path
