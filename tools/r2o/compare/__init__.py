"""The scientific compare engine: are two output files (or directories) the same, and if not, where
and by how much?

``compare(a, b, rules)`` picks a comparator from the rules' mode and the file format, and returns a
:class:`Comparison`. Differences are not exceptions (``Comparison.equal`` is false); a file that
cannot be read (missing, corrupt, truncated, of the wrong format) raises
:class:`r2o.errors.CannotCompareError`. Pure library: no Docker, no AWS. The tolerance formula and
how NaN, fill values and ULPs interact are documented in :mod:`r2o.compare.rules`.
"""

from __future__ import annotations

import stat
from pathlib import Path

from r2o.compare.formats import FORMATS, detect, magic_format
from r2o.compare.report import Comparison, Difference, FieldReport, Location
from r2o.compare.rules import DEFAULT_IGNORED_ATTRIBUTES, MODES, CompareRules, Mode, Tolerance
from r2o.errors import CannotCompareError
from r2o.fs import kind_of

__all__ = [
    "DEFAULT_IGNORED_ATTRIBUTES",
    "FORMATS",
    "MODES",
    "CompareRules",
    "Comparison",
    "Difference",
    "FieldReport",
    "Location",
    "Mode",
    "Tolerance",
    "compare",
]


DEFAULT_RULES = CompareRules()


def compare(a: Path, b: Path, rules: CompareRules = DEFAULT_RULES) -> Comparison:
    """Compare file (or directory) ``a`` with ``b`` under ``rules``."""
    a, b = Path(a), Path(b)
    for path in (a, b):
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise CannotCompareError(
                f"{path}: no such file or directory",
                hint="check the path; a run that failed may not have written its output",
            ) from None
        except OSError as exc:
            raise CannotCompareError(f"{path}: cannot be read: {exc.strerror or exc}") from None
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            # A FIFO would block the reader forever; a device never ends.
            raise CannotCompareError(
                f"{path} is a {kind_of(mode)}: r2o compares regular files and folders only",
                hint="copy the data into a regular file first",
            )
    if a.is_dir() or b.is_dir():
        if not (a.is_dir() and b.is_dir()):
            what = {True: "a directory", False: "a file"}
            diff = Difference("type", f"a is {what[a.is_dir()]}, b is {what[b.is_dir()]}")
            return Comparison(False, "directory", a, b, differences=(diff,))
        from r2o.compare.tree import compare_tree

        return compare_tree(a, b, rules, _compare_file)
    return _compare_file(a, b, rules)


def _compare_file(a: Path, b: Path, rules: CompareRules) -> Comparison:
    try:
        return _dispatch(a, b, rules)
    except CannotCompareError:
        raise
    except (OSError, MemoryError) as exc:
        raise CannotCompareError(
            f"{a} vs {b}: cannot be compared: {exc}", hint="check that both files are readable and complete"
        ) from exc


def _dispatch(a: Path, b: Path, rules: CompareRules) -> Comparison:
    if rules.mode == "exact":
        from r2o.compare.binary import compare_bytes

        return compare_bytes(a, b, rules.format or detect(a))
    fmt = rules.format if rules.format not in (None, "any") else None
    if fmt is None:
        fmt = detect(a)
        # a signature that contradicts the other file's is a difference, not a reason to crash
        ma, mb = magic_format(a), magic_format(b)
        if ma is not None and mb is not None and ma != mb:
            diff = Difference("file type", f"a is {ma}, b is {mb}")
            return Comparison(False, fmt, a, b, differences=(diff,))
    if fmt not in FORMATS:
        raise CannotCompareError(f"unknown format {fmt!r} for {a}", hint=f"use one of: {', '.join(FORMATS)}")
    if fmt == "netcdf":
        from r2o.compare.netcdf import compare_netcdf

        return compare_netcdf(a, b, rules)
    if fmt == "text":
        from r2o.compare.text import compare_text

        return compare_text(a, b, rules)
    if fmt == "csv":
        if rules.mode == "text":
            from r2o.compare.text import compare_text

            return compare_text(a, b, rules)
        from r2o.compare.table import compare_csv

        return compare_csv(a, b, rules)
    if fmt == "json":
        if rules.mode == "text":
            from r2o.compare.text import compare_text

            return compare_text(a, b, rules)
        from r2o.compare.jsondoc import compare_json

        return compare_json(a, b, rules)
    if fmt == "npy":
        from r2o.compare.arrays import compare_npy

        return compare_npy(a, b, rules)
    if fmt == "npz":
        from r2o.compare.arrays import compare_npz

        return compare_npz(a, b, rules)
    if fmt == "png":
        from r2o.compare.image import compare_png

        return compare_png(a, b, rules)
    from r2o.compare.binary import compare_bytes

    return compare_bytes(a, b, fmt)
