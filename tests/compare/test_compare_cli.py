"""The `compare` click command, directly and through the `r2o` entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from r2o.cli.compare import compare, parse_var_spec
from r2o.cli.main import main as r2o_main
from r2o.compare import Tolerance
from r2o.errors import CannotCompareError, UsageError


@pytest.fixture
def pair(nc: Any) -> tuple[Path, Path]:
    x = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    y = x.copy()
    y[1, 0] = np.float32(3.001)
    return nc("a.nc", {"O3": x, "NO2": x}), nc("b.nc", {"O3": y, "NO2": x})


def run(*args: str) -> Any:
    return CliRunner().invoke(compare, [str(a) for a in args], catch_exceptions=True)


def test_equal_exits_zero(pair: tuple[Path, Path]) -> None:
    a, _ = pair
    result = run(a, a)
    assert result.exit_code == 0, result.output
    assert "EQUAL" in result.output


def test_different_exits_one_with_cprnc_like_report(pair: tuple[Path, Path]) -> None:
    result = run(*pair)
    assert result.exit_code == 1
    assert "O3 float32 (2, 2): DIFFERENT" in result.output
    assert "1 of 4 values differ" in result.output
    assert "first at (1, 0)" in result.output


def test_tolerance_options(pair: tuple[Path, Path]) -> None:
    assert run(*pair, "--rtol", "1e-3").exit_code == 0
    assert run(*pair, "--atol", "1e-4").exit_code == 1
    assert run(*pair, "--var", "O3:atol=2e-3").exit_code == 0
    assert run(*pair, "--var", "NO2:atol=2e-3").exit_code == 1


def test_json_output(pair: tuple[Path, Path]) -> None:
    result = run(*pair, "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["equal"] is False and data["kind"] == "netcdf"
    o3 = next(f for f in data["fields"] if f["name"] == "O3")
    assert o3["differing"] == 1 and o3["first"]["index"] == [1, 0]


def test_mode_exact(pair: tuple[Path, Path], tmp_path: Path) -> None:
    a = tmp_path / "x.txt"
    b = tmp_path / "y.txt"
    a.write_text("1.0\n")
    b.write_text("1.00\n")
    assert run(a, b).exit_code == 0
    assert run(a, b, "--mode", "exact").exit_code == 1
    assert run(a, b, "--mode", "text").exit_code == 1


def test_ignore_attr(nc: Any) -> None:
    x = np.zeros(2)
    a = nc("a.nc", {"v": x}, attrs={"stamp": "1"})
    b = nc("b.nc", {"v": x}, attrs={"stamp": "2"})
    assert run(a, b).exit_code == 1
    assert run(a, b, "--ignore-attr", "stamp").exit_code == 0


@pytest.mark.parametrize(
    "spec",
    ["O3", "O3:", "O3:rtol", "O3:rtol=abc", "O3:tol=1", ":rtol=1", "O3:rtol=-1", "O3:ulp=1.5"],
)
def test_malformed_var_spec_is_a_usage_error(pair: tuple[Path, Path], spec: str) -> None:
    result = run(*pair, "--var", spec)
    assert isinstance(result.exception, UsageError)
    assert result.exception.exit_code == 2
    assert "--var" in str(result.exception)


def test_negative_tolerance_is_a_usage_error(pair: tuple[Path, Path]) -> None:
    result = run(*pair, "--rtol", "-1")
    assert isinstance(result.exception, UsageError)


def test_parse_var_spec_keeps_defaults() -> None:
    name, tol = parse_var_spec("NO2:atol=1e-9", Tolerance(rtol=1e-6))
    assert (name, tol) == ("NO2", Tolerance(rtol=1e-6, atol=1e-9))
    assert parse_var_spec("T:rtol=0,atol=0.5,ulp=3", Tolerance()) == ("T", Tolerance(atol=0.5, ulp=3))


def test_unreadable_file_raises_cannot_compare(pair: tuple[Path, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    result = run(pair[0], bad)
    assert isinstance(result.exception, CannotCompareError)
    assert result.exception.exit_code == 10


def test_entry_point_maps_errors_to_exit_codes(
    pair: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"garbage")
    cases = [([*pair], 1), ([pair[0], pair[0]], 0), ([pair[0], bad], 10), ([*pair, "--var", "x"], 2)]
    for args, code in cases:
        with pytest.raises(SystemExit) as info:
            r2o_main(["compare", *map(str, args)])
        assert info.value.code == code, args
    assert "cannot be read as netCDF" in capsys.readouterr().err
