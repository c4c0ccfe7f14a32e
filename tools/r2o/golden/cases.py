"""case.yaml: a golden case's parameters, inputs and compare rules, loaded and checked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r2o import schema, strict_yaml
from r2o.compare.rules import DEFAULT_IGNORED_ATTRIBUTES, CompareRules, Tolerance
from r2o.errors import ManifestError, NotFoundError, Problem, UsageError, did_you_mean
from r2o.manifest import Component

CASE_FILE = "case.yaml"
_SIMPLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # a folder or output name: no "/", no ".."
GOLDEN_DIR = Path("tests") / "golden"
EXPECTED = "expected"


@dataclass(frozen=True)
class FromOutput:
    """An input taken from another component's golden output."""

    component: str
    case: str
    output: str


@dataclass(frozen=True)
class Case:
    component: str
    name: str
    folder: Path
    description: str
    parameters: Mapping[str, str] = field(default_factory=dict)  # as strings, parsed like -p values
    inputs: Mapping[str, Path | FromOutput] = field(default_factory=dict)
    rules: Mapping[str, CompareRules] = field(default_factory=dict)  # per output name

    @property
    def expected_dir(self) -> Path:
        return self.folder / EXPECTED

    @property
    def id(self) -> str:
        return f"{self.component}/{self.name}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def default_rules(fmt: str) -> CompareRules:
    """Outputs a case does not mention: text exactly, structured formats value by value, no tolerance."""
    if fmt in ("text", "any"):
        return CompareRules(mode="exact" if fmt == "any" else "text")
    return CompareRules(mode="numeric")


def _rules(spec: Mapping[str, Any], fmt: str) -> CompareRules:
    base = default_rules(fmt)
    per_name = {
        name: Tolerance(rtol=t.get("rtol", 0.0), atol=t.get("atol", 0.0), ulp=t.get("ulp"))
        for name, t in {**spec.get("variables", {}), **spec.get("columns", {})}.items()
    }
    return CompareRules(
        mode=spec.get("mode", base.mode),
        default=Tolerance(rtol=spec.get("rtol", 0.0), atol=spec.get("atol", 0.0), ulp=spec.get("ulp")),
        per_name=per_name,
        nan_equal=spec.get("nan_equal", True),
        ignore_attributes=DEFAULT_IGNORED_ATTRIBUTES | frozenset(spec.get("ignore_attributes", ())),
        png_threshold=spec.get("png_threshold", 0.0),
    )


def load_case(component: Component, folder: Path) -> Case:
    path = folder / CASE_FILE
    if folder.is_symlink():
        raise ManifestError.single(
            folder,
            "",
            "golden case folder is a symbolic link; r2o never follows links to cases",
            hint="move the case folder itself under tests/golden/",
        )
    if path.is_symlink():
        raise ManifestError.single(path, "", "is a symbolic link; r2o never follows it", hint="use a file")
    if not path.is_file():
        raise ManifestError.single(
            path, "", f"golden case folder has no {CASE_FILE}", hint=f"add {CASE_FILE} or remove the folder"
        )
    doc = strict_yaml.load(path)
    if not isinstance(doc.data, dict):
        raise ManifestError.single(path, "", "expected a mapping at the top level")
    problems = schema.validate(doc, "case")
    if problems:
        raise ManifestError(problems)
    data = doc.data
    out: list[Problem] = []
    for key, value in data.get("parameters", {}).items():
        try:
            component.parse_parameters({key: _text(value)})
        except UsageError as exc:
            out.append(
                Problem(path, f"parameters.{key}", exc.message, doc.line(("parameters", key)), exc.hint)
            )
    inputs: dict[str, Path | FromOutput] = {}
    declared_inputs = [i.name for i in component.inputs]
    for key, value in data.get("inputs", {}).items():
        if key not in declared_inputs:
            out.append(
                Problem(
                    path,
                    f"inputs.{key}",
                    f"{component.name} has no input '{key}'",
                    doc.line(("inputs", key)),
                    did_you_mean(key, declared_inputs),
                )
            )
            continue
        if isinstance(value, str):
            target = (folder / value).resolve()
            if not target.is_relative_to(folder.resolve()):
                out.append(
                    Problem(
                        path,
                        f"inputs.{key}",
                        f"'{value}' is outside the case folder",
                        doc.line(("inputs", key)),
                        "keep a case's own inputs inside its folder",
                    )
                )
            elif not target.exists():
                out.append(
                    Problem(
                        path,
                        f"inputs.{key}",
                        f"'{value}' does not exist in {folder.name}/",
                        doc.line(("inputs", key)),
                    )
                )
            inputs[key] = target
        else:
            ref = value["from"]
            bad = [f for f in ("component", "case", "output") if not _SIMPLE_NAME.fullmatch(ref[f])]
            if bad:
                out.append(
                    Problem(
                        path,
                        f"inputs.{key}.from.{bad[0]}",
                        f"'{ref[bad[0]]}' is not a name (a from: input names a component, one of its "
                        "golden cases and one of its outputs, never a path)",
                        doc.line(("inputs", key, "from", bad[0])),
                        "write e.g. from: {component: wrf, case: one-day, output: wrfout}",
                    )
                )
                continue
            inputs[key] = FromOutput(ref["component"], ref["case"], ref["output"])
    for spec in component.inputs:
        if spec.required and spec.name not in data.get("inputs", {}):
            out.append(
                Problem(
                    path,
                    "inputs",
                    f"required input '{spec.name}' of {component.name} is not given",
                    doc.line(("inputs",)),
                )
            )
    declared_outputs = {o.name: o for o in component.outputs}
    rules: dict[str, CompareRules] = {}
    for key, spec in data.get("compare", {}).items():
        if key not in declared_outputs:
            out.append(
                Problem(
                    path,
                    f"compare.{key}",
                    f"{component.name} has no output '{key}'",
                    doc.line(("compare", key)),
                    did_you_mean(key, declared_outputs),
                )
            )
            continue
        try:
            rules[key] = _rules(spec, declared_outputs[key].format)
        except ValueError as exc:
            out.append(Problem(path, f"compare.{key}", str(exc), doc.line(("compare", key))))
    for name, spec in declared_outputs.items():
        rules.setdefault(name, default_rules(spec.format))
    if out:
        raise ManifestError(out)
    return Case(
        component=component.name,
        name=folder.name,
        folder=folder,
        description=data["description"],
        parameters={k: _text(v) for k, v in data.get("parameters", {}).items()},
        inputs=inputs,
        rules=rules,
    )


def case_folders(component: Component) -> list[Path]:
    root = component.folder / GOLDEN_DIR
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def cases_of(component: Component, only: str | None = None) -> list[Case]:
    folders = case_folders(component)
    if only is not None:
        names = [f.name for f in folders]
        if only not in names:
            raise NotFoundError(
                f"{component.name} has no golden case '{only}'",
                hint=did_you_mean(only, names) or f"cases: {', '.join(names) or 'none'}",
            )
        folders = [f for f in folders if f.name == only]
    return [load_case(component, f) for f in folders]
