"""JSON documents: compared structurally, numbers with tolerance.

Objects must have the same keys (order ignored), arrays the same length, and leaves the same type
(``true`` is not ``1``; an integer and a float are both numbers). Numbers are compared with the
tolerance of their key path (``per_name["a.b[2].c"]``), else of their key name (``per_name["c"]``),
else the default. Strings, booleans and null must be equal.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from r2o.compare.report import Comparison, Difference, FieldReport
from r2o.compare.rules import CompareRules, Tolerance
from r2o.compare.values import FieldStats

MAX_SHOWN = 50


def _load(path: Path) -> Any:
    from r2o.errors import CannotCompareError

    try:
        with path.open("r", encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise CannotCompareError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            hint="check that the file is complete (an interrupted write leaves it truncated)",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CannotCompareError(
            f"{path}: cannot be read as JSON: {exc}", hint="check the path and its encoding"
        ) from exc


def _kind(x: Any) -> str:
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, int | float):
        return "number"
    if x is None:
        return "null"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "array"
    return "object"


class _Walker:
    def __init__(self, rules: CompareRules) -> None:
        self.rules = rules
        self.differences: list[Difference] = []
        self.count = 0
        self.stats = FieldStats()
        self.numbers = 0

    def add(self, where: str, message: str) -> None:
        self.count += 1
        if self.count <= MAX_SHOWN:
            self.differences.append(Difference(where or "$", message))

    def tolerance(self, path: str, key: str) -> Tolerance:
        if self.rules.mode != "numeric":
            return Tolerance()
        found = self.rules.per_name.get(path) or self.rules.per_name.get(key)
        return found if found is not None else self.rules.default

    def walk(self, x: Any, y: Any, path: str, key: str) -> None:
        kx, ky = _kind(x), _kind(y)
        if kx != ky:
            self.add(path, f"type a={kx} b={ky}")
        elif kx == "object":
            for k in sorted(x.keys() | y.keys()):
                sub = f"{path}.{k}" if path else k
                self.rules.saw(sub, k)
                if k not in y:
                    self.add(sub, "only in a")
                elif k not in x:
                    self.add(sub, "only in b")
                else:
                    self.walk(x[k], y[k], sub, k)
        elif kx == "array":
            if len(x) != len(y):
                self.add(path, f"length a={len(x)} b={len(y)}")
            for i, (u, v) in enumerate(zip(x, y, strict=False)):
                self.walk(u, v, f"{path}[{i}]", key)
        elif kx == "number":
            self.number(float(x), float(y), path, key, exact=isinstance(x, int) and isinstance(y, int))
        elif x != y:
            self.add(path, f"a={json.dumps(x)[:80]} b={json.dumps(y)[:80]}")

    def number(self, x: float, y: float, path: str, key: str, *, exact: bool) -> None:
        self.numbers += 1
        st = self.stats
        st.size += 1
        if math.isnan(x) or math.isnan(y):
            if math.isnan(x) and math.isnan(y) and self.rules.nan_equal:
                return
            st.differing += 1
            st.nan_mismatch += math.isnan(x) != math.isnan(y)
            self.add(path, f"a={x!r} b={y!r}")
            return
        st.valid += 1
        if x == y:
            return
        st.not_identical += 1
        tol = self.tolerance(path, key)
        d = abs(x - y) if not (math.isinf(x) or math.isinf(y)) else math.inf
        m = max(abs(x), abs(y))
        st.max_abs = max(st.max_abs, d)
        st.max_rel = max(st.max_rel, d / m if m else 0.0)
        st.sum_sq += d * d
        if d > tol.atol + tol.rtol * m or (exact and tol.rtol == tol.atol == 0.0):
            st.differing += 1
            self.add(path, f"a={x!r} b={y!r} (|a-b|={d:.4g} > atol {tol.atol:g} + rtol {tol.rtol:g}*{m:.4g})")


def compare_json(a: Path, b: Path, rules: CompareRules) -> Comparison:
    walker = _Walker(rules)
    walker.walk(_load(a), _load(b), "", "")
    if walker.count > MAX_SHOWN:
        walker.differences.append(Difference("$", f"{walker.count - MAX_SHOWN:,} more differences"))
    fields: tuple[FieldReport, ...] = ()
    if walker.stats.not_identical:
        # summary statistics of the numbers that differ; each one out of tolerance is also listed
        fields = (walker.stats.report("numbers", rules.default),)
    equal = walker.count == 0
    return Comparison(equal, "json", a, b, differences=tuple(walker.differences), fields=fields)
