"""Mutation test: every single-value perturbation above tolerance is caught, none below is flagged.

In netCDF-4 and in classic files, 200 random perturbations of one value each (relative or absolute,
NaN, sign flips, across magnitudes from 1e-3 to 1e3 and exact zeros) must each make the comparison
fail at exactly that position; 200 perturbations inside the tolerance (but never bit-identical) must
all pass.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest

from r2o.compare import CompareRules, Tolerance, compare

RTOL, ATOL = 1e-5, 1e-9
RULES = CompareRules(default=Tolerance(rtol=RTOL, atol=ATOL))
SHAPE = (6, 8, 10, 12)


def within(x: float, y: float) -> bool:
    return abs(x - y) <= ATOL + RTOL * max(abs(x), abs(y))


@pytest.fixture(scope="module", params=["NETCDF4", "NETCDF3_64BIT_OFFSET"])
def base(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> tuple[Path, np.ndarray]:
    """netCDF-4 (contiguous HDF5 datasets) and classic CDF-2 with d0 as the record dimension: both
    take the direct-read path, the classic one record by record with the variables interleaved."""
    rng = np.random.default_rng(2024)
    values = rng.normal(size=SHAPE) * 10.0 ** rng.uniform(-3, 3, size=SHAPE)
    values[rng.random(SHAPE) < 0.02] = 0.0
    data = values.astype(np.float32)
    path = tmp_path_factory.mktemp("mutation") / "a.nc"
    classic = request.param.startswith("NETCDF3")
    with netCDF4.Dataset(path, "w", format=request.param) as ds:
        for i, n in enumerate(SHAPE):
            ds.createDimension(f"d{i}", None if classic and i == 0 else n)
        for name in ("O3", "NO2"):
            ds.createVariable(name, "f4", tuple(ds.dimensions))[:] = data
    return path, data


def mutate(path: Path, name: str, index: tuple[int, ...], value: Any) -> None:
    with netCDF4.Dataset(path, "a") as ds:
        ds[name][index] = value


def perturbed_above(v: float, rng: np.random.Generator) -> np.float32:
    kind = rng.random()
    if kind < 0.1:
        return np.float32(np.nan)
    if kind < 0.2 and v != 0.0 and not within(v, -v):
        return np.float32(-v)
    k = 10 ** rng.uniform(np.log10(1.05), 4)
    sign = rng.choice([-1.0, 1.0])
    while True:
        new = np.float32(v + sign * k * (ATOL + RTOL * abs(v)))
        if not within(v, float(new)):
            return new
        k *= 2


def perturbed_below(v: float, rng: np.random.Generator) -> np.float32:
    k = rng.uniform(0.0, 0.95)
    sign = rng.choice([-1.0, 1.0])
    new = np.float32(v + sign * k * (ATOL + RTOL * abs(v)))
    if new == np.float32(v):  # rounded back: the nearest float in that direction is still inside
        new = np.nextafter(np.float32(v), np.float32(sign * np.inf), dtype=np.float32)
    assert within(v, float(new)) and new.tobytes() != np.float32(v).tobytes()
    return new


def test_perturbations_above_tolerance_are_all_caught(base: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, data = base
    b = tmp_path / "b.nc"
    shutil.copy(path, b)
    rng = np.random.default_rng(1)
    caught = 0
    for trial in range(200):
        name = ("O3", "NO2")[trial % 2]
        index = tuple(int(rng.integers(0, n)) for n in SHAPE)
        original = data[index]
        mutate(b, name, index, perturbed_above(float(original), rng))
        result = compare(path, b, RULES)
        mutate(b, name, index, original)
        report = {f.name: f for f in result.fields}[name]
        assert not result.equal, (trial, index)
        assert report.differing == 1 and report.first is not None and report.first.index == index
        caught += 1
    assert caught == 200
    assert compare(path, b, RULES).equal  # every mutation was undone


def test_perturbations_below_tolerance_raise_no_alarm(base: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, data = base
    b = tmp_path / "b.nc"
    shutil.copy(path, b)
    rng = np.random.default_rng(2)
    for trial in range(200):
        name = ("O3", "NO2")[trial % 2]
        index = tuple(int(rng.integers(0, n)) for n in SHAPE)
        original = data[index]
        mutate(b, name, index, perturbed_below(float(original), rng))
        result = compare(path, b, RULES)
        mutate(b, name, index, original)
        report = {f.name: f for f in result.fields}[name]
        assert result.equal, (trial, index, result.render_text())
        assert report.not_identical == 1 and report.differing == 0
