"""Text files: exact line by line, or numeric-tolerant (numbers inside lines compared with rtol/atol).

In numeric mode each line is split into numbers and the text between them. The text must match
after runs of whitespace are collapsed (so a column that widens does not count); the numbers are
compared with the default tolerance of the rules. A number is an optional sign, digits with an
optional fraction and an exponent (``e`` or Fortran's ``d``), or ``nan``/``inf`` standing alone.
Digits inside identifiers (``NO2``) are numbers too; they compare equal when they are equal.
Files are streamed: memory does not depend on their length.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from r2o.compare.report import Comparison, Difference, FieldReport, Location
from r2o.compare.rules import CompareRules
from r2o.compare.values import BLOCK, FieldStats, Point, ValueContext, evaluate
from r2o.errors import CannotCompareError

MAX_SHOWN = 20  # differing lines listed in a report; the count covers all of them

NUMBER = re.compile(
    r"(?<![A-Za-z_.\d])[-+]?(?:nan|inf(?:inity)?)(?![A-Za-z_\d])"
    r"|[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eEdD][-+]?\d+)?",
    re.IGNORECASE,
)
_LINE_SHIFT = 20  # a number's position is line << 20 | its rank within the line


def parse_number(token: str) -> float:
    return float(token.replace("d", "e").replace("D", "e"))


def split_line(line: str) -> tuple[list[str], list[float]]:
    """The text parts (whitespace collapsed) and the numbers of one line."""
    parts: list[str] = []
    numbers: list[float] = []
    last = 0
    for match in NUMBER.finditer(line):
        parts.append(" ".join(line[last : match.start()].split()))
        numbers.append(parse_number(match.group()))
        last = match.end()
    parts.append(" ".join(line[last:].split()))
    return parts, numbers


def _lines(f: IO[bytes]) -> Iterator[bytes]:
    for raw in f:
        yield raw.rstrip(b"\r\n") if raw.endswith(b"\n") else raw


def _show(line: bytes | None) -> str:
    if line is None:
        return "(no line)"
    text = line.decode("utf-8", "replace")
    return repr(text if len(text) <= 100 else text[:97] + "...")


def compare_text(a: Path, b: Path, rules: CompareRules) -> Comparison:
    numeric = rules.mode == "numeric"
    tol = rules.default if numeric else rules.tolerance_for("")
    ctx = ValueContext(tol=tol, nan_equal=rules.nan_equal, kind_a="float", kind_b="float")
    stats = FieldStats()
    differences: list[Difference] = []
    n_diff_lines = 0
    lines_a = lines_b = 0
    pending_a: list[float] = []
    pending_b: list[float] = []
    pending_pos: list[int] = []

    def flush() -> None:
        if not pending_a:
            return
        pos = np.array(pending_pos, dtype=np.intp)
        av, bv = np.array(pending_a), np.array(pending_b)
        finite = av[np.isfinite(av)]
        if finite.size:
            stats.note_range(float(finite.min()), float(finite.max()))
        valid, _ = evaluate(
            stats, av, bv, np.arange(pos.size), ctx, lambda i: int(pos[i]), count_changes=True
        )
        stats.valid += valid
        stats.size += pos.size
        pending_a.clear()
        pending_b.clear()
        pending_pos.clear()

    try:
        with a.open("rb") as fa, b.open("rb") as fb:
            for number, (la, lb) in enumerate(itertools.zip_longest(_lines(fa), _lines(fb)), start=1):
                lines_a += la is not None
                lines_b += lb is not None
                if la == lb:
                    continue
                if la is None or lb is None or not numeric:
                    n_diff_lines += 1
                    if n_diff_lines <= MAX_SHOWN:
                        differences.append(Difference(f"line {number}", f"a={_show(la)} b={_show(lb)}"))
                    continue
                parts_a, nums_a = split_line(la.decode("utf-8", "surrogateescape"))
                parts_b, nums_b = split_line(lb.decode("utf-8", "surrogateescape"))
                if parts_a != parts_b or len(nums_a) != len(nums_b):
                    n_diff_lines += 1
                    if n_diff_lines <= MAX_SHOWN:
                        differences.append(
                            Difference(f"line {number}", f"text differs: a={_show(la)} b={_show(lb)}")
                        )
                    continue
                pending_a.extend(nums_a)
                pending_b.extend(nums_b)
                pending_pos.extend((number << _LINE_SHIFT) | k for k in range(len(nums_a)))
                if len(pending_a) >= BLOCK:
                    flush()
    except OSError as exc:
        raise CannotCompareError(
            f"cannot read {exc.filename or f'{a} or {b}'}: {exc.strerror or exc}",
            hint="check the path and its permissions",
        ) from exc
    flush()
    if n_diff_lines > MAX_SHOWN:
        differences.append(Difference("lines", f"{n_diff_lines - MAX_SHOWN:,} more lines differ"))
    if lines_a != lines_b:
        differences.append(Difference("line count", f"a has {lines_a:,} lines, b has {lines_b:,}"))
    fields: tuple[FieldReport, ...] = ()
    if stats.size:

        def locate(p: Point) -> Location:
            return Location(index=(p[0] >> _LINE_SHIFT, p[0] & ((1 << _LINE_SHIFT) - 1)), a=p[1], b=p[2])

        report = stats.report("numbers on differing lines (at line, rank)", tol, locate=locate)
        fields = (report,)
    equal = not differences and all(f.equal for f in fields)
    notes = ("numbers compared with tolerance; whitespace runs collapsed",) if numeric else ()
    return Comparison(equal, "text", a, b, differences=tuple(differences), fields=fields, notes=notes)
