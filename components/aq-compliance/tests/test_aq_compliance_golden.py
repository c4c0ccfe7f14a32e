"""The two-days golden case reproduces natively (the PNG is compared in the image: r2o's Docker tier)."""

from __future__ import annotations

from pathlib import Path

import compliance
import netCDF4
import numpy as np
import yaml

CASE = Path(__file__).resolve().parent / "golden" / "two-days"


def test_golden_case_matches_expected(tmp_path: Path) -> None:
    spec = yaml.safe_load((CASE / "case.yaml").read_text())
    args = ["--input-dir", str(CASE / spec["inputs"]["conc"]), "--outdir", str(tmp_path)]
    args += ["--utc-offset", str(spec["parameters"]["utc_offset"])]
    assert compliance.main(args) == 0
    assert (tmp_path / "report.txt").read_text() == (CASE / "expected" / "report.txt").read_text()
    with netCDF4.Dataset(tmp_path / "mda8.nc") as got, netCDF4.Dataset(CASE / "expected" / "mda8.nc") as want:
        assert set(got.variables) == set(want.variables)
        for name in want.variables:
            np.testing.assert_allclose(got[name][:], want[name][:], rtol=1e-6, atol=0.0, err_msg=name)
        assert {k: str(got.getncattr(k)) for k in got.ncattrs()} == {
            k: str(want.getncattr(k)) for k in want.ncattrs()
        }
    png = (CASE / "expected" / "mda8_max.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # day 1 complete everywhere, day 2 incomplete (no 07-17 file): the case exercises both
    with netCDF4.Dataset(CASE / "expected" / "mda8.nc") as ds:
        assert np.all(ds["DAY_VALID"][0] == 1) and np.all(ds["VALID_WINDOWS"][1] == 5)
