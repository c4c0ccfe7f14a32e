"""Fixtures the component test suites share (pytest loads this file for every components/*/tests/).

Each component's own conftest puts its folder and libs/ on sys.path. This one offers what the
emissions stages' tests need: ``bench``, the helpers of ``benchmarks/science_emissions.py`` (the
native golden-case runner and the synthetic wrfout writer, which the benchmark times), and
``synthetic_wrfout``, a one-day wrfout written with them; and ``ioapi_conventions``, the check every
I/O API output of the chain must pass (MCIP's vertical header, 80-character FILEDESC lines, a HISTORY,
PseudoNetCDF's audit_meta).
"""

import datetime as dt
import importlib.util
import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import netCDF4
import numpy as np
import pytest

_REPO = Path(__file__).resolve().parents[1]
SYNTHETIC_DAY = dt.date(2024, 7, 15)


def _load_bench() -> ModuleType:
    name = "science_emissions_bench"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _REPO / "benchmarks" / "science_emissions.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def bench() -> ModuleType:
    return _load_bench()


@pytest.fixture(scope="session")
def synthetic_wrfout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-day wrfout (2024-07-15, 24 hourly steps, contract variables) on the reference grid."""
    path = tmp_path_factory.mktemp("wrf") / "wrfout_d01.nc"
    return _load_bench().write_synthetic_wrfout(path, SYNTHETIC_DAY)


# The vertical header MCIP writes for CMAQ layers collapsed from WRF's: VGTYP = 7 (VGWRFEM in the I/O API's
# PARMS3: WRF mass-core sigma/eta), VGTOP = WRF's model top P_TOP in Pa, VGLVLS = the eta (ZNW) values of
# the layer interfaces used, from 1 at the ground upwards.
VGWRFEM = 7
WRF_P_TOP_PA = 5000.0
# PseudoNetCDF 3.5's audit_meta checks attribute types against Python ints, but netCDF4 returns integer
# attributes as numpy.int32: these type checks fail on every file netCDF4 writes (a reader quirk, not an
# I/O API violation; /work/shared/science.md section 5). Nothing else may fail.
AUDIT_TYPE_QUIRKS = frozenset(
    {
        "type_FTYPE",
        "type_CDATE",
        "type_CTIME",
        "type_WDATE",
        "type_WTIME",
        "type_NTHIK",
        "type_GDTYP",
        "type_VGTYP",
    }
)


def check_ioapi_conventions(path: Path, nlays: int) -> None:
    """Assert the I/O API conventions of an AQcast output file (see the constants above)."""
    import PseudoNetCDF as pnc

    sys.path.insert(0, str(_REPO / "libs"))
    from aqdomain import domain

    with netCDF4.Dataset(path) as ds:
        assert int(ds.VGTYP) == VGWRFEM and float(ds.VGTOP) == WRF_P_TOP_PA
        vglvls = np.asarray(ds.VGLVLS, dtype=np.float64)
        assert vglvls.shape == (nlays + 1,) and vglvls[0] == 1.0 and np.all(np.diff(vglvls) < 0)
        np.testing.assert_allclose(vglvls, domain.ETA_INTERFACES[: nlays + 1], rtol=0, atol=5e-7)
        assert all(np.isclose(v, domain.WRF_ETA_LEVELS, atol=5e-7).any() for v in vglvls)  # WRF's levels
        for name in ("FILEDESC", "HISTORY"):
            text = str(ds.getncattr(name))
            assert text.strip() and len(text) % 80 == 0 and len(text) <= 60 * 80, (name, len(text))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PseudoNetCDF's own deprecation and IOAPI_ISPH notices
        f = pnc.pncopen(str(path), format="ioapi")
        _, audit, var_audits = f.audit_meta(fail="ignore")
    failed = {k for k, ok in audit.items() if not ok and k != "SUMMARY"}
    assert failed <= AUDIT_TYPE_QUIRKS, sorted(failed - AUDIT_TYPE_QUIRKS)
    bad_vars = {v: [k for k, ok in a.items() if not ok] for v, a in var_audits.items() if not a["SUMMARY"]}
    assert not bad_vars, bad_vars


@pytest.fixture(scope="session")
def ioapi_conventions() -> Callable[[Path, int], None]:
    return check_ioapi_conventions


R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]


def run_golden_case(component: str, case: str) -> None:
    """``r2o test COMPONENT --case CASE --native``: the component's command on the case's inputs, its outputs
    compared with the recorded expected ones by r2o's comparison (the fast tier's golden regression)."""
    proc = subprocess.run(
        [*R2O, "test", component, "--case", case, "--native", "--json"],
        cwd=_REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = json.loads(proc.stdout) if proc.stdout.lstrip().startswith("[") else []
    verdicts = [(r["component"], r["case"], r["status"]) for r in results]
    assert proc.returncode == 0 and verdicts == [(component, case, "pass")], (
        proc.stdout[-6000:] + proc.stderr[-3000:]
    )


@pytest.fixture(scope="session")
def golden_case() -> Callable[[str, str], None]:
    return run_golden_case
