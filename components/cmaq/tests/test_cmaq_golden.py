"""The one-day golden case (chained from the wrf and emissions-merge golden outputs) reproduces natively."""

from __future__ import annotations

from pathlib import Path

import ctm
import netCDF4
import numpy as np
import pytest
import yaml

COMPONENTS = Path(__file__).resolve().parents[2]
CASE = COMPONENTS / "cmaq" / "tests" / "golden" / "one-day"


def _upstream(ref: dict[str, str]) -> Path:
    with (COMPONENTS / ref["component"] / "component.yaml").open() as fh:
        outputs = yaml.safe_load(fh)["outputs"]
    path = next(o["path"] for o in outputs if o["name"] == ref["output"])
    return COMPONENTS / ref["component"] / "tests" / "golden" / ref["case"] / "expected" / Path(path).name


@pytest.mark.slow
def test_golden_case_matches_expected(tmp_path: Path) -> None:
    spec = yaml.safe_load((CASE / "case.yaml").read_text())
    wrfout = _upstream(spec["inputs"]["wrfout"]["from"])
    emissions = _upstream(spec["inputs"]["emissions"]["from"])
    args = ["--date", spec["parameters"]["date"], "--wrfout", str(wrfout), "--emissions", str(emissions)]
    args += ["--o3-background", str(spec["parameters"]["o3_background"]), "--outdir", str(tmp_path)]
    assert ctm.main(args) == 0
    for output, name in (("conc", "CONC.nc"), ("cgrid", "CGRID.nc")):
        rule = spec["compare"][output]
        with netCDF4.Dataset(tmp_path / name) as got, netCDF4.Dataset(CASE / "expected" / name) as want:
            assert list(got.variables) == list(want.variables)
            for var in want.variables:
                np.testing.assert_allclose(
                    got[var][:], want[var][:], rtol=rule["rtol"], atol=rule["atol"], err_msg=f"{name} {var}"
                )
            for key in want.ncattrs():
                assert str(got.getncattr(key)) == str(want.getncattr(key)), key
