"""buildspec.yml: parse it strictly and check its structure as CodeBuild would.

No public schema of the buildspec format can be reached offline, so the rules below are written
from the CodeBuild buildspec reference: version 0.2 only; known top-level, env, phase, batch,
report and node keys (with "did you mean" for the others); phase names; commands are strings;
batch identifiers are letters, digits and underscores under 128 characters and unique; every
``depend-on`` names another node; the graph has no cycle. Every problem is reported at once, each
with its field path and line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r2o import strict_yaml
from r2o.errors import ManifestError, Problem, did_you_mean
from r2o.strict_yaml import FieldPath, YamlDocument, format_path

FILE = "buildspec.yml"
PHASES = ("install", "pre_build", "build", "post_build")
TOP_KEYS = ("version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache")
ENV_KEYS = (
    "shell",
    "variables",
    "parameter-store",
    "exported-variables",
    "secrets-manager",
    "git-credential-helper",
)
SHELLS = ("bash", "/bin/sh", "sh", "powershell.exe", "cmd.exe")
PHASE_KEYS = ("run-as", "on-failure", "runtime-versions", "commands", "finally")
ON_FAILURE = ("ABORT", "CONTINUE")
BATCH_KINDS = ("build-graph", "build-list", "build-matrix", "build-fanout")
BATCH_KEYS = ("fast-fail", *BATCH_KINDS)
NODE_KEYS = ("identifier", "buildspec", "debug-session", "depend-on", "env", "ignore-failure")
NODE_ENV_KEYS = ("compute-type", "fleet", "image", "privileged-mode", "type", "variables")
MATRIX_KEYS = ("static", "dynamic")
MATRIX_STATIC_KEYS = ("ignore-failure", "env", "debug-session")
MATRIX_DYNAMIC_KEYS = ("buildspec", "env")
MATRIX_DYNAMIC_ENV_KEYS = ("compute-type", "image", "variables")
REPORT_KEYS = ("files", "base-directory", "discard-paths", "file-format")
REPORT_FORMATS = (
    "JUNITXML",
    "CUCUMBERJSON",
    "TESTNGXML",
    "VISUALSTUDIOTRX",
    "NUNITXML",
    "NUNIT3XML",
    "CLOVERXML",
    "COBERTURAXML",
    "JACOCOXML",
    "SIMPLECOV",
)
IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,127}$")
ABORT, CONTINUE = ON_FAILURE


@dataclass(frozen=True)
class Phase:
    name: str
    commands: tuple[str, ...]
    finally_commands: tuple[str, ...] = ()
    on_failure: str = ABORT


@dataclass(frozen=True)
class BatchNode:
    """One build of a batch: its identifier, its variables, what it waits for."""

    identifier: str
    variables: Mapping[str, str] = field(default_factory=dict)
    depend_on: tuple[str, ...] = ()
    ignore_failure: bool = False
    buildspec: str | None = None  # another buildspec file for this node (None: the same file)


@dataclass(frozen=True)
class Buildspec:
    file: Path
    shell: str
    variables: Mapping[str, str]
    phases: tuple[Phase, ...]  # in CodeBuild's order
    batch_kind: str | None  # one of BATCH_KINDS, or None without a batch section
    nodes: tuple[BatchNode, ...]
    fast_fail: bool = False
    reports: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)


# --- the check ------------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def add(self, at: FieldPath, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.doc.file, format_path(at), message, self.doc.line(at), hint))

    def mapping(self, value: Any, at: FieldPath, allowed: Sequence[str]) -> dict[str, Any]:
        """``value`` as a mapping with only ``allowed`` keys (problems added otherwise)."""
        if not isinstance(value, dict):
            self.add(at, f"expected a mapping, found {_kind(value)}")
            return {}
        for key in value:
            if key not in allowed:
                self.add(
                    (*at, str(key)),
                    f"unknown key '{key}'",
                    did_you_mean(str(key), allowed) or f"allowed: {', '.join(allowed)}",
                )
        return {str(k): v for k, v in value.items()}

    def strings(self, value: Any, at: FieldPath) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.add(at, f"expected a list of strings, found {_kind(value)}")
            return ()
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.add((*at, i), f"expected a string, found {_kind(item)}", "quote the command")
        return tuple(out)

    def variables(self, value: Any, at: FieldPath) -> dict[str, str]:
        if not isinstance(value, dict):
            self.add(at, f"expected a mapping of variable names to values, found {_kind(value)}")
            return {}
        out = {}
        for key, item in value.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(key)):
                self.add((*at, str(key)), f"'{key}' is not a valid environment variable name")
            if isinstance(item, (dict, list)) or item is None:
                self.add((*at, str(key)), f"expected a string value, found {_kind(item)}")
                continue
            out[str(key)] = _scalar(item)
        return out

    def boolean(self, value: Any, at: FieldPath) -> bool:
        if not isinstance(value, bool):
            self.add(at, f"expected true or false, found {_kind(value)}")
            return False
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: f"the string {value!r}", bool: f"{value}"}.get(
        type(value), f"{type(value).__name__} {value!r}"
    )


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse(doc: YamlDocument) -> tuple[Buildspec | None, list[Problem]]:
    """The buildspec in ``doc`` and every structural problem found (the buildspec is None if any)."""
    c = _Checker(doc)
    top = c.mapping(doc.data, (), TOP_KEYS)
    if not isinstance(doc.data, dict):
        return None, c.problems
    version = top.get("version")
    if version is None:
        c.add((), "'version' is required", "write version: 0.2")
    elif str(version) != "0.2":
        c.add(
            ("version",),
            f"version {version} is not supported",
            "use version: 0.2 (0.1 runs every command in a separate shell)",
        )

    env = c.mapping(top.get("env", {}), ("env",), ENV_KEYS)
    shell = env.get("shell", "bash")
    if shell not in SHELLS:
        c.add(("env", "shell"), f"unknown shell {shell!r}", f"one of {', '.join(SHELLS)}")
    variables = c.variables(env.get("variables", {}), ("env", "variables"))

    phases: list[Phase] = []
    if "phases" not in top:
        c.add((), "'phases' is required", "give at least a build phase with commands")
    raw_phases = c.mapping(top.get("phases", {}), ("phases",), PHASES)
    for name in PHASES:
        if name not in raw_phases:
            continue
        at: FieldPath = ("phases", name)
        spec = c.mapping(raw_phases[name], at, PHASE_KEYS)
        if "runtime-versions" in spec and name != "install":
            c.add((*at, "runtime-versions"), "runtime-versions is allowed only in the install phase")
        on_failure = spec.get("on-failure", ABORT)
        if on_failure not in ON_FAILURE:
            c.add((*at, "on-failure"), f"on-failure must be {' or '.join(ON_FAILURE)}, not {on_failure!r}")
        if "commands" not in spec and "finally" not in spec and isinstance(raw_phases[name], dict):
            c.add(at, f"phase {name} has no commands")
        phases.append(
            Phase(
                name,
                c.strings(spec.get("commands", []), (*at, "commands")),
                c.strings(spec.get("finally", []), (*at, "finally")),
                str(on_failure),
            )
        )

    kind, nodes, fast_fail = _batch(c, top)
    reports = top.get("reports", {})
    if not isinstance(reports, dict):
        c.add(("reports",), f"expected a mapping of report group names, found {_kind(reports)}")
        reports = {}
    for name, report in reports.items():
        at = ("reports", name)
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", name) and not name.startswith("arn:"):
            c.add(at, f"report group name '{name}' may hold only letters, digits, '-', '_' and '.'")
        spec = c.mapping(report, at, REPORT_KEYS)
        if "files" not in spec:
            c.add(at, "a report group needs 'files'")
        c.strings(spec.get("files", []), (*at, "files"))
        fmt = spec.get("file-format", "JUNITXML")
        if fmt not in REPORT_FORMATS:
            c.add(
                (*at, "file-format"),
                f"unknown report format {fmt!r}",
                did_you_mean(str(fmt), REPORT_FORMATS) or f"one of {', '.join(REPORT_FORMATS)}",
            )
    if c.problems:
        return None, c.problems
    return Buildspec(
        doc.file,
        str(shell),
        variables,
        tuple(phases),
        kind,
        tuple(nodes),
        fast_fail,
        {k: dict(v) for k, v in reports.items()},
    ), []


def _batch(c: _Checker, top: dict[str, Any]) -> tuple[str | None, list[BatchNode], bool]:
    if "batch" not in top:
        return None, [], False
    batch = c.mapping(top["batch"], ("batch",), BATCH_KEYS)
    fast_fail = c.boolean(batch["fast-fail"], ("batch", "fast-fail")) if "fast-fail" in batch else False
    kinds = [k for k in BATCH_KINDS if k in batch]
    if len(kinds) != 1:
        c.add(
            ("batch",),
            f"give exactly one of {', '.join(BATCH_KINDS)}"
            + (f" (found {', '.join(kinds)})" if kinds else ""),
        )
        return None, [], fast_fail
    kind = kinds[0]
    if kind in ("build-graph", "build-list"):
        return kind, _graph(c, batch[kind], ("batch", kind), with_depend_on=kind == "build-graph"), fast_fail
    if kind == "build-matrix":
        return kind, _matrix(c, batch[kind], ("batch", kind)), fast_fail
    return kind, [], fast_fail


def _graph(c: _Checker, value: Any, at: FieldPath, *, with_depend_on: bool) -> list[BatchNode]:
    if not isinstance(value, list) or not value:
        c.add(at, f"expected a non-empty list of builds, found {_kind(value)}")
        return []
    nodes: list[BatchNode] = []
    where: dict[str, FieldPath] = {}
    allowed = NODE_KEYS if with_depend_on else tuple(k for k in NODE_KEYS if k != "depend-on")
    for i, item in enumerate(value):
        node_at: FieldPath = (*at, i)
        spec = c.mapping(item, node_at, allowed)
        ident = spec.get("identifier")
        if not isinstance(ident, str) or not ident:
            c.add(node_at, "every build needs an 'identifier'")
            continue
        if not IDENTIFIER.match(ident):
            c.add(
                (*node_at, "identifier"), f"identifier '{ident}' must be 1-127 letters, digits, underscores"
            )
        if ident in where:
            c.add(
                (*node_at, "identifier"),
                f"identifier '{ident}' is used twice "
                f"(also at line {c.doc.line((*where[ident], 'identifier'))})",
            )
        where.setdefault(ident, node_at)
        env = c.mapping(spec.get("env", {}), (*node_at, "env"), NODE_ENV_KEYS)
        if "privileged-mode" in env:
            c.boolean(env["privileged-mode"], (*node_at, "env", "privileged-mode"))
        depend_on = c.strings(spec.get("depend-on", []), (*node_at, "depend-on"))
        ignore = "ignore-failure" in spec and c.boolean(spec["ignore-failure"], (*node_at, "ignore-failure"))
        buildspec = spec.get("buildspec")
        if buildspec is not None and not isinstance(buildspec, str):
            c.add((*node_at, "buildspec"), f"expected a file name, found {_kind(buildspec)}")
            buildspec = None
        nodes.append(
            BatchNode(
                ident,
                c.variables(env.get("variables", {}), (*node_at, "env", "variables")),
                depend_on,
                ignore,
                buildspec,
            )
        )
    for i, node in enumerate(nodes):
        for j, dep in enumerate(node.depend_on):
            dep_at: FieldPath = (*where.get(node.identifier, (*at, i)), "depend-on", j)
            if dep == node.identifier:
                c.add(dep_at, f"'{node.identifier}' depends on itself")
            elif dep not in where:
                c.add(
                    dep_at,
                    f"depend-on names no build '{dep}'",
                    did_you_mean(dep, where) or f"builds: {', '.join(where)}",
                )
    cycle = find_cycle({n.identifier: n.depend_on for n in nodes})
    if cycle:
        c.add(
            where[cycle[0]],
            f"depend-on has a cycle: {' -> '.join(cycle)}",
            "a build cannot wait, directly or not, for itself",
        )
    return nodes


def _matrix(c: _Checker, value: Any, at: FieldPath) -> list[BatchNode]:
    spec = c.mapping(value, at, MATRIX_KEYS)
    static = c.mapping(spec.get("static", {}), (*at, "static"), MATRIX_STATIC_KEYS)
    ignore = (
        c.boolean(static["ignore-failure"], (*at, "static", "ignore-failure"))
        if "ignore-failure" in static
        else False
    )
    static_env = c.mapping(static.get("env", {}), (*at, "static", "env"), NODE_ENV_KEYS)
    fixed = c.variables(static_env.get("variables", {}), (*at, "static", "env", "variables"))
    if "dynamic" not in spec:
        c.add(at, "a build-matrix needs 'dynamic'")
        return []
    dynamic = c.mapping(spec["dynamic"], (*at, "dynamic"), MATRIX_DYNAMIC_KEYS)
    buildspecs: tuple[str | None, ...] = (
        c.strings(dynamic["buildspec"], (*at, "dynamic", "buildspec")) if "buildspec" in dynamic else (None,)
    )
    env = c.mapping(dynamic.get("env", {}), (*at, "dynamic", "env"), MATRIX_DYNAMIC_ENV_KEYS)
    raw = env.get("variables", {})
    if not isinstance(raw, dict):
        c.add((*at, "dynamic", "env", "variables"), f"expected names mapped to lists, found {_kind(raw)}")
        return []
    axes: dict[str, tuple[str, ...]] = {}
    for key, values in raw.items():
        var_at: FieldPath = (*at, "dynamic", "env", "variables", str(key))
        if not isinstance(values, list) or not values:
            c.add(var_at, f"expected a non-empty list of values, found {_kind(values)}")
            continue
        axes[str(key)] = tuple(_scalar(v) for v in values)
    if not axes and buildspecs == (None,):
        c.add((*at, "dynamic"), "a build-matrix needs dynamic buildspec or env variables to vary")
    nodes = []
    for i, (spec_file, combo) in enumerate(itertools.product(buildspecs, itertools.product(*axes.values()))):
        variables = {**fixed, **dict(zip(axes, combo, strict=True))}
        ident = "_".join(re.sub(r"[^A-Za-z0-9_]", "_", v) for v in combo) or f"build{i + 1}"
        nodes.append(
            BatchNode(f"{ident}_{i + 1}" if len(buildspecs) > 1 else ident, variables, (), ignore, spec_file)
        )
    return nodes


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """One cycle of the graph as [a, b, ..., a], or [] when it has none."""
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for dep in edges.get(node, ()):
            if dep not in edges:
                continue
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in edges:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def check_text(text: str, file: Path) -> Buildspec:
    """Parse and check buildspec ``text``; raise ManifestError listing every problem."""
    buildspec, problems = parse(strict_yaml.parse(text, file))
    if problems or buildspec is None:
        raise ManifestError(problems, hint="fix the buildspec (or its template), then rerun")
    return buildspec


def load(path: Path) -> Buildspec:
    doc = strict_yaml.load(path)
    buildspec, problems = parse(doc)
    if problems or buildspec is None:
        raise ManifestError(problems, hint="fix the buildspec, or regenerate it: r2o render codebuild")
    return buildspec
