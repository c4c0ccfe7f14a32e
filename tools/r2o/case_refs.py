"""Which other components' golden outputs a component's golden cases read (``from:`` inputs).

A consumer's tests depend on those files, so they belong to its content address and its change
set: when wrf's expected wrfout changes, the emissions cases that read it must run again. This is
a light scan (the golden package validates case files fully); unreadable case files are skipped
here and reported by ``r2o test``.
"""

from __future__ import annotations

from pathlib import Path

from r2o import strict_yaml
from r2o.errors import R2OError
from r2o.repo import COMPONENTS

GOLDEN = Path("tests") / "golden"


def golden_sources(folder: Path) -> tuple[str, ...]:
    """Paths, relative to the repository, of the expected/ folders that ``folder``'s cases read."""
    out: set[str] = set()
    root = folder / GOLDEN
    if not root.is_dir():
        return ()
    for case_file in sorted(root.glob("*/case.yaml")):
        try:
            data = strict_yaml.load(case_file).data
        except R2OError:
            continue
        inputs = data.get("inputs") if isinstance(data, dict) else None
        if not isinstance(inputs, dict):
            continue
        for value in inputs.values():
            ref = value.get("from") if isinstance(value, dict) else None
            if (
                isinstance(ref, dict)
                and isinstance(ref.get("component"), str)
                and isinstance(ref.get("case"), str)
            ):
                out.add(f"{COMPONENTS}/{ref['component']}/{GOLDEN.as_posix()}/{ref['case']}/expected")
    return tuple(sorted(out))
