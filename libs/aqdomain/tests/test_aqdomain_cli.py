"""The command-line helpers every AQcast stage uses: --date parsing and error reporting."""

import argparse
import datetime as dt
from pathlib import Path

import pytest
from aqdomain.cli import EXIT_INPUT, InputFileError, day_argument, run_step


def test_day_argument_takes_an_iso_day_and_names_the_option_otherwise() -> None:
    assert day_argument("2024-07-15") == dt.date(2024, 7, 15)
    with pytest.raises(argparse.ArgumentTypeError, match=r"--date must be YYYY-MM-DD, got '15/07/2024'"):
        day_argument("15/07/2024")


def test_run_step_returns_the_result_or_reports_why_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.nc"
    assert run_step("stage", out, lambda: 42) == 42
    assert capsys.readouterr().err == ""

    def bad_input() -> int:
        raise InputFileError(f"{tmp_path}/in.nc: variable T2 is missing")

    assert run_step("stage", out, bad_input) is None
    assert capsys.readouterr().err == f"stage: error: {tmp_path}/in.nc: variable T2 is missing\n"

    def unwritable() -> int:
        raise PermissionError(13, "Permission denied")

    assert run_step("stage", out, unwritable) is None
    assert capsys.readouterr().err == f"stage: error: cannot write {out}: [Errno 13] Permission denied\n"
    assert EXIT_INPUT == 3  # r2o's exit code for bad inputs (see tools/r2o/errors.py)


def test_other_failures_are_not_swallowed(tmp_path: Path) -> None:
    def bug() -> int:
        raise ZeroDivisionError("a bug, not an input problem")

    with pytest.raises(ZeroDivisionError):
        run_step("stage", tmp_path / "o.nc", bug)
