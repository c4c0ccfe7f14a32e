"""Directories: compared recursively, file by file; files present on one side only are reported.

Each pair of files is compared with the same rules (format chosen per file). Files that cannot
be read do not stop the walk: every other file is compared first, then one
:class:`~r2o.errors.CannotCompareError` lists them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from r2o.compare.report import Comparison, Difference
from r2o.compare.rules import CompareRules
from r2o.errors import CannotCompareError
from r2o.fs import scan


def _entries(root: Path) -> dict[str, bool]:
    """Relative path -> is a directory, for everything under ``root``. Nothing is followed: a
    symbolic link, FIFO, socket or device inside a tree is an error naming every one of them."""
    found = scan(root, outside_links=False)  # hard links (a promoted pipeline run) are fine here
    if found.problems:
        raise CannotCompareError(
            f"{root} holds entries r2o never follows or reads:\n{found.problem_text()}",
            hint="compare folders of regular files only",
        )
    return {rel: entry.kind == "folder" for rel, entry in found.entries.items()}


def compare_tree(
    a: Path, b: Path, rules: CompareRules, compare_file: Callable[[Path, Path, CompareRules], Comparison]
) -> Comparison:
    ea, eb = _entries(a), _entries(b)
    differences: list[Difference] = []
    children: list[Comparison] = []
    failures: list[str] = []
    file_rules = replace(rules, format=None)
    for rel in sorted(ea.keys() | eb.keys()):
        if rel not in eb:
            differences.append(Difference(rel + ("/" if ea[rel] else ""), "only in a"))
        elif rel not in ea:
            differences.append(Difference(rel + ("/" if eb[rel] else ""), "only in b"))
        elif ea[rel] != eb[rel]:
            kinds = {True: "a directory", False: "a file"}
            differences.append(Difference(rel, f"is {kinds[ea[rel]]} in a and {kinds[eb[rel]]} in b"))
        elif not ea[rel]:
            try:
                children.append(compare_file(a / rel, b / rel, file_rules))
            except CannotCompareError as exc:
                failures.append(f"{rel}: {exc.message}")
    if failures:
        differing = sum(1 for c in children if not c.equal) + len(differences)
        raise CannotCompareError(
            f"{a} vs {b}: {len(failures)} file(s) could not be compared"
            f" ({differing} other difference(s) found):\n  " + "\n  ".join(failures),
            hint="each file above names its problem; fix or regenerate those files and compare again",
        )
    equal = not differences and all(c.equal for c in children)
    return Comparison(equal, "directory", a, b, differences=tuple(differences), children=tuple(children))
