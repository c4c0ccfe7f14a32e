"""Fixtures the component test suites share (pytest loads this file for every components/*/tests/).

Each component's own conftest puts its folder and libs/ on sys.path. This one offers what the
emissions stages' tests need: ``bench``, the helpers of ``benchmarks/science_emissions.py`` (the
native golden-case runner and the synthetic wrfout writer, which the benchmark times), and
``synthetic_wrfout``, a one-day wrfout written with them.
"""

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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
