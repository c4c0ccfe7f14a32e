"""JUnit XML for golden verdicts, the format CodeBuild's reports section reads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from r2o import fs
from r2o.golden.runner import ERROR, PASS, CaseVerdict


def to_xml(verdicts: Sequence[CaseVerdict], suite: str = "r2o-golden") -> bytes:
    failures = sum(1 for v in verdicts if v.status not in (PASS, ERROR))
    errors = sum(1 for v in verdicts if v.status == ERROR)
    total = sum(v.seconds for v in verdicts)
    root = ET.Element(
        "testsuites",
        name=suite,
        tests=str(len(verdicts)),
        failures=str(failures),
        errors=str(errors),
        time=f"{total:.3f}",
    )
    by_component: dict[str, list[CaseVerdict]] = {}
    for v in verdicts:
        by_component.setdefault(v.case.component, []).append(v)
    for component, items in by_component.items():
        ts = ET.SubElement(
            root,
            "testsuite",
            name=component,
            tests=str(len(items)),
            failures=str(sum(1 for v in items if v.status not in (PASS, ERROR))),
            errors=str(sum(1 for v in items if v.status == ERROR)),
            time=f"{sum(v.seconds for v in items):.3f}",
        )
        for v in items:
            tc = ET.SubElement(ts, "testcase", classname=component, name=v.case.name, time=f"{v.seconds:.3f}")
            if v.status == ERROR:
                ET.SubElement(
                    tc, "error", message=v.message.splitlines()[0] if v.message else "error"
                ).text = v.message
            elif v.status != PASS:
                detail = v.message or "\n\n".join(o.report for o in v.outputs if not o.equal)
                first = v.message or ", ".join(o.output for o in v.outputs if not o.equal) + " differ"
                ET.SubElement(tc, "failure", message=first).text = detail
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def write(path: Path, verdicts: Sequence[CaseVerdict]) -> None:
    """Write atomically: CodeBuild never reads half a report."""
    fs.atomic_write(path, to_xml(verdicts))
