"""Data files are content: golden inputs and expected outputs (netCDF, npy, PNG) change the tag.

A component's tag must change when any of its golden data changes (the image's tests and `r2o test`
depend on them), and when a data file of an included lib changes. Checked as a git checkout and as a
plain folder, with one byte flipped inside the file's data and with a new file.
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from tests.conftest import make_git_repo
from tests.images.sample_repo import tags_of, write_sample_repo


@pytest.fixture(params=["git", "plain"])
def sample(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    root = write_sample_repo(tmp_path / "repo")
    write_data(root)
    if request.param == "git":
        make_git_repo(root)
    return root


def write_netcdf(path: Path, value: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as ds:
        ds.createDimension("x", 4)
        ds.createVariable("O3", "f4", ("x",))[:] = np.full(4, value, dtype=np.float32)


def write_data(root: Path) -> None:
    case = root / "components/beta/tests/golden/one-day"
    write_netcdf(case / "expected/CONC.nc", 0.04)
    write_netcdf(case / "inputs/wrfout_d01.nc", 290.0)
    np.save(case / "expected/field.npy", np.arange(6.0))
    (case / "expected/map.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(64)))
    write_netcdf(root / "libs/shared/data/terrain.nc", 1600.0)


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # in the variable data, not the header
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("components/beta/tests/golden/one-day/expected/CONC.nc", {"beta"}),
        ("components/beta/tests/golden/one-day/inputs/wrfout_d01.nc", {"beta"}),
        ("components/beta/tests/golden/one-day/expected/field.npy", {"beta"}),
        ("components/beta/tests/golden/one-day/expected/map.png", {"beta"}),
        ("libs/shared/data/terrain.nc", {"alpha"}),  # alpha includes libs/shared
    ],
)
def test_one_byte_of_a_data_file_changes_the_tag(sample: Path, rel: str, expected: set[str]) -> None:
    before = tags_of(sample)
    flip_last_byte(sample / rel)
    after = tags_of(sample)
    assert {name for name in before if before[name] != after[name]} == expected


def test_new_values_in_a_netcdf_file_change_the_tag(sample: Path) -> None:
    before = tags_of(sample)
    write_netcdf(sample / "components/beta/tests/golden/one-day/expected/CONC.nc", 0.05)
    after = tags_of(sample)
    assert {name for name in before if before[name] != after[name]} == {"beta"}


def test_a_new_netcdf_file_changes_the_tag(sample: Path) -> None:
    before = tags_of(sample)
    write_netcdf(sample / "components/gamma/tests/golden/case/expected/out.nc", 1.0)
    after = tags_of(sample)
    assert {name for name in before if before[name] != after[name]} == {"gamma"}
