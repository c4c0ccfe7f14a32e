"""CSV files: columns matched by header name, each with its own tolerance.

The first row is the header. A cell that is a number on both sides is compared with the column's
tolerance (``per_name[column]``, else the default); any other cell must match exactly (after
stripping surrounding whitespace). Rows are streamed; memory does not depend on the row count.
The delimiter is a tab for ``.tsv`` files and sniffed among ``, ; tab |`` otherwise.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from r2o.compare.report import Comparison, Difference
from r2o.compare.rules import CompareRules
from r2o.compare.values import BLOCK, FieldStats, ValueContext, evaluate

MAX_SHOWN = 20

_NUMBER = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf(?:inity)?)", re.IGNORECASE)


def _number(cell: str) -> float | None:
    text = cell.strip()
    return float(text) if _NUMBER.fullmatch(text) else None


@dataclass
class _Column:
    name: str
    ctx: ValueContext
    stats: FieldStats = field(default_factory=FieldStats)
    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def flush(self) -> None:
        if not self.a:
            return
        av, bv = np.array(self.a), np.array(self.b)
        rows = np.array(self.rows, dtype=np.intp)
        finite = av[np.isfinite(av)]
        if finite.size:
            self.stats.note_range(float(finite.min()), float(finite.max()))
        valid, _ = evaluate(
            self.stats, av, bv, np.arange(rows.size), self.ctx, lambda i: int(rows[i]), count_changes=True
        )
        self.stats.valid += valid
        self.a.clear()
        self.b.clear()
        self.rows.clear()


def _delimiter(path: Path, sample: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _reader(f: io.TextIOBase, path: Path) -> Iterator[list[str]]:
    sample = f.read(65536)
    f.seek(0)
    return csv.reader(f, delimiter=_delimiter(path, sample))


def compare_csv(a: Path, b: Path, rules: CompareRules) -> Comparison:
    from r2o.compare.text import compare_text  # a header-less file falls back to text
    from r2o.errors import CannotCompareError

    differences: list[Difference] = []
    text_cells = 0
    try:
        with (
            a.open("r", encoding="utf-8", errors="surrogateescape", newline="") as fa,
            b.open("r", encoding="utf-8", errors="surrogateescape", newline="") as fb,
        ):
            ra, rb = _reader(fa, a), _reader(fb, b)
            head_a, head_b = next(ra, None), next(rb, None)
            if head_a is None or head_b is None:
                return compare_text(a, b, rules)
            head_a = [h.strip() for h in head_a]
            head_b = [h.strip() for h in head_b]
            rules.saw(*head_a, *head_b)
            for name in head_a:
                if name not in head_b:
                    differences.append(Difference(f"column {name}", "only in a"))
            for name in head_b:
                if name not in head_a:
                    differences.append(Difference(f"column {name}", "only in b"))
            common = [n for n in head_a if n in head_b]
            if common != [n for n in head_b if n in head_a]:
                differences.append(Difference("columns", "same columns in a different order"))
            index_b = {n: i for i, n in enumerate(head_b)}
            pairs = [(head_a.index(n), index_b[n]) for n in common]
            columns = [
                _Column(n, ValueContext(rules.tolerance_for(n), rules.nan_equal, "float", "float"))
                for n in common
            ]
            rows_a = rows_b = 0
            n_text = 0
            for row, (xa, xb) in enumerate(itertools.zip_longest(ra, rb), start=1):
                rows_a += xa is not None
                rows_b += xb is not None
                if xa is None or xb is None:
                    continue
                for col, (ia, ib) in zip(columns, pairs, strict=True):
                    ca = xa[ia] if ia < len(xa) else ""
                    cb = xb[ib] if ib < len(xb) else ""
                    col.stats.size += 1
                    if ca == cb:
                        continue
                    na, nb = _number(ca), _number(cb)
                    if na is not None and nb is not None:
                        col.a.append(na)
                        col.b.append(nb)
                        col.rows.append(row)
                        if len(col.a) >= BLOCK:
                            col.flush()
                    elif ca.strip() != cb.strip():
                        col.stats.differing += 1
                        col.stats.not_identical += 1
                        col.stats.note_first((row, ca, cb))
                        n_text += 1
            text_cells = n_text
    except (OSError, csv.Error) as exc:
        raise CannotCompareError(
            f"{a} vs {b}: cannot be read as CSV: {exc}", hint="check that both files are complete CSV text"
        ) from exc
    if rows_a != rows_b:
        differences.append(Difference("row count", f"a has {rows_a:,} data rows, b has {rows_b:,}"))
    fields = []
    for col in columns:
        col.flush()
        fields.append(col.stats.report(f"column {col.name}", col.ctx.tol))  # location = (data row,)
    notes = (f"{text_cells:,} non-numeric cells differ",) if text_cells else ()
    equal = not differences and all(f.equal for f in fields)
    return Comparison(equal, "csv", a, b, differences=tuple(differences), fields=tuple(fields), notes=notes)
