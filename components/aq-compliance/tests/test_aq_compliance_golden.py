"""What the two-days golden case exercises, and its regression in the fast tier (`r2o test --native`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import netCDF4
import numpy as np

CASE = Path(__file__).resolve().parent / "golden" / "two-days"


def test_the_case_holds_a_complete_and_an_incomplete_day() -> None:
    # day 1 complete everywhere, day 2 incomplete (no 07-17 file): the case exercises both EPA rules
    with netCDF4.Dataset(CASE / "expected" / "mda8.nc") as ds:
        assert np.all(ds["DAY_VALID"][0] == 1) and np.all(ds["VALID_WINDOWS"][1] == 5)
    assert (CASE / "expected" / "mda8_max.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_two_days_case_reproduces_its_expected_outputs(golden_case: Callable[[str, str], None]) -> None:
    golden_case("aq-compliance", "two-days")
