"""The `compare` click command, directly and through the `r2o` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


@pytest.mark.parametrize("preset", [None, "2"])
def test_numpy_is_imported_with_one_blas_thread_and_the_environment_restored(preset: str | None) -> None:
    code = (
        "import os, sys\n"
        "from r2o.cli.compare import _import_numpy_without_blas_threads as f\n"
        "assert 'numpy' not in sys.modules\n"
        "f()\n"
        "import numpy\n"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'), len(os.listdir('/proc/self/task')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset:
        env["OPENBLAS_NUM_THREADS"] = preset
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    variable, threads = out.stdout.split()
    assert variable == (preset or "None")  # a user's own setting is kept; ours is gone
    assert int(threads) == (1 if preset is None else 2)  # OpenBLAS started no thread of its own


def test_r2o_compare_loads_only_what_comparing_needs(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x 1.0\n")
    (tmp_path / "b.txt").write_text("x 1.0\n")
    code = (
        "import sys\n"
        "from r2o.cli.main import main\n"
        "try:\n"
        f"    main(['compare', {str(tmp_path / 'a.txt')!r}, {str(tmp_path / 'b.txt')!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = ('r2o.repo', 'jsonschema', 'docker', 'boto3', 'jinja2', 'netCDF4')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # the manifest machinery (schemas, repository discovery) costs ~80 ms per start; compare never needs it
    assert out.stdout.strip().splitlines()[-1] == "[]"
