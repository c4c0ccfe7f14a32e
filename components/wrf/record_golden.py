"""Regenerate the one-day golden case natively: inputs/coarse.nc (synoptic.py) and expected/wrfout_d01.nc.

    .venv/bin/python components/wrf/record_golden.py

Used until `r2o golden record` exists; the component's own code makes both files, deterministically.
"""

from __future__ import annotations

from pathlib import Path

import downscale
import synoptic

CASE = Path(__file__).resolve().parent / "tests" / "golden" / "one-day"
DATE = "2024-07-15"


def main() -> int:
    (CASE / "inputs").mkdir(parents=True, exist_ok=True)
    (CASE / "expected").mkdir(parents=True, exist_ok=True)
    coarse = CASE / "inputs" / "coarse.nc"
    synoptic.main(["--date", DATE, "--out", str(coarse)])
    return downscale.main(
        ["--date", DATE, "--coarse", str(coarse), "--out", str(CASE / "expected" / "wrfout_d01.nc")]
    )


if __name__ == "__main__":
    raise SystemExit(main())
