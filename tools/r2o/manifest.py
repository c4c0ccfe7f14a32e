"""component.yaml: schema validation, semantic checks, and the frozen Component dataclasses.

Loading is two steps: the JSON Schema (r2o/schemas/component.schema.json) checks shape and
types; the registered checks below check meaning (the name, Ref:: names, defaults inside bounds,
container paths, secrets, AWS Batch limits). Every problem found is reported at once, each with
file, field and line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from r2o import names, schema, sensitive, strict_yaml
from r2o.errors import ManifestError, Problem, UsageError, did_you_mean
from r2o.strict_yaml import YamlDocument

MANIFEST_FILE = "component.yaml"
INPUT_ROOT = PurePosixPath("/data/input")
OUTPUT_ROOT = PurePosixPath("/data/output")
STDOUT = "stdout"
REF_PREFIX = "Ref::"
_REF = re.compile(r"Ref::([A-Za-z0-9_]+)")

# AWS Batch on Fargate accepts only these vCPU -> memory (MiB) combinations.
FARGATE_MEMORY: Mapping[float, tuple[int, ...]] = {
    0.25: (512, 1024, 2048),
    0.5: tuple(range(1024, 4096 + 1, 1024)),
    1: tuple(range(2048, 8192 + 1, 1024)),
    2: tuple(range(4096, 16384 + 1, 1024)),
    4: tuple(range(8192, 30720 + 1, 1024)),
    8: tuple(range(16384, 61440 + 1, 4096)),
    16: tuple(range(32768, 122880 + 1, 8192)),
}
MIN_TIMEOUT_S = 60
MAX_ATTEMPTS = 10
# Fargate's default ephemeral storage (20 GiB): what a run may write under /data/output unless the
# manifest says otherwise (resources.storage_mib).
DEFAULT_STORAGE_MIB = 20 * 1024
# Every run, local or on Batch, gets at most this many processes and threads (a fork bomb stops)...
DEFAULT_PIDS_LIMIT = 512
# ... and a /tmp of this size (MiB) in memory, the rest of its root file system being read-only.
TMPFS_MIB = 256
OUTPUTS_EXTRA = ("keep", "drop")
# AWS Batch reserves environment variable names starting with this (it sets AWS_BATCH_JOB_ID, ...).
RESERVED_ENV_PREFIX = "AWS_BATCH"
# What a ``secrets:`` value may be: the full ARN of a Secrets Manager secret (its name ends in the
# six characters Secrets Manager appends, which IAM grants must match), optionally with ECS's
# ``:json-key:version-stage:version-id`` selector, or of an SSM Parameter Store parameter.
_PARTITION = r"aws(?:-cn|-us-gov)?"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_SECRET_PREFIX = rf"arn:{_PARTITION}:secretsmanager:{_REGION}:\d{{12}}:secret:[A-Za-z0-9/_+=.@-]+"
_SELECTOR = r"(?P<selector>(?::[A-Za-z0-9/_+=.@-]*){0,3})"
SECRETS_MANAGER_ARN = re.compile(rf"^(?P<secret>{_SECRET_PREFIX}-[A-Za-z0-9]{{6}}){_SELECTOR}$")
_PARTIAL_SECRETS_MANAGER_ARN = re.compile(rf"^{_SECRET_PREFIX}{_SELECTOR}$")
SSM_PARAMETER_ARN = re.compile(rf"^arn:{_PARTITION}:ssm:{_REGION}:\d{{12}}:parameter/[A-Za-z0-9_./-]+$")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # integer | number | string | boolean | date | enum
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    values: tuple[str, ...] = ()
    required: bool = False
    description: str = ""

    def parse(self, text: str) -> Any:
        """Turn a command-line string into a typed value, checking type and bounds."""
        value: Any
        try:
            if self.type == "integer":
                value = int(text)
            elif self.type == "number":
                value = float(text)
            elif self.type == "boolean":
                lowered = text.strip().lower()
                if lowered not in ("true", "false"):
                    raise ValueError(text)
                value = lowered == "true"
            elif self.type == "date":
                value = dt.date.fromisoformat(text).isoformat()
            else:
                value = text
        except ValueError:
            raise UsageError(
                f"parameter '{self.name}': {text!r} is not {_A[self.type]}",
                hint=f"pass -p {self.name}=<{self.type}>",
            ) from None
        problem = self.check(value)
        if problem:
            raise UsageError(f"parameter '{self.name}': {problem}")
        return value

    def check(self, value: Any) -> str:
        """ "" when ``value`` fits this parameter, else what is wrong with it."""
        if self.type in ("integer", "number") and not isinstance(value, bool):
            if self.type == "integer" and not isinstance(value, int):
                return f"{value!r} is not an integer"
            if not isinstance(value, (int, float)):
                return f"{value!r} is not a number"
            if self.minimum is not None and value < self.minimum:
                return f"{value} is below the minimum {_num(self.minimum)}"
            if self.maximum is not None and value > self.maximum:
                return f"{value} is above the maximum {_num(self.maximum)}"
            return ""
        if self.type in ("integer", "number"):
            return f"{value!r} is not {_A[self.type]}"
        if self.type == "boolean":
            return "" if isinstance(value, bool) else f"{value!r} is not true or false"
        if not isinstance(value, str):
            return f"{value!r} is not a string"
        if self.type == "date":
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                return f"{value!r} is not a date (YYYY-MM-DD)"
        if self.type == "enum" and value not in self.values:
            hint = did_you_mean(value, self.values)
            return f"{value!r} is not one of {', '.join(self.values)}" + (f"; {hint}" if hint else "")
        return ""

    @staticmethod
    def format(value: Any) -> str:
        """The string form substituted for Ref:: (booleans lowercase, like JSON)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


_A = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "string": "a string",
    "enum": "one of the allowed values",
}


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class Resources:
    vcpus: float
    memory_mib: int
    gpus: int = 0
    timeout_s: int = 3600
    retries: int = 1  # attempts, as AWS Batch's retryStrategy counts them (1 = no retry)
    platforms: tuple[str, ...] = ("EC2",)
    storage_mib: int = DEFAULT_STORAGE_MIB  # cap of what a run writes under /data/output


@dataclass(frozen=True)
class DataSpec:
    """A declared input or output."""

    name: str
    path: str  # absolute container path, or "stdout" for an output
    kind: str = "file"
    format: str = "any"
    required: bool = True
    description: str = ""

    @property
    def is_stdout(self) -> bool:
        return self.path == STDOUT

    @property
    def filename(self) -> str:
        """Name of this output's file in a golden case's expected/ folder."""
        return "stdout.txt" if self.is_stdout else PurePosixPath(self.path).name


@dataclass(frozen=True)
class Build:
    dockerfile: str = "Dockerfile"
    include: tuple[str, ...] = ()
    args: Mapping[str, str] = field(default_factory=dict)
    images: Mapping[str, str] = field(default_factory=dict)  # build ARG -> base image (multi-stage builds)
    minutes: float | None = None  # CodeBuild minutes to build, test and push (r2o ci plan's estimate)


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    description: str
    base: str
    command: tuple[str, ...]
    resources: Resources
    folder: Path
    owners: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()  # the image's ENTRYPOINT; Batch passes command to it as arguments
    build: Build = Build()
    environment: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Parameter] = field(default_factory=dict)
    inputs: tuple[DataSpec, ...] = ()
    outputs: tuple[DataSpec, ...] = ()
    network: bool = False
    outputs_extra: str = "drop"  # keep | drop: files under /data/output that no output declares
    # Environment variable name -> Secrets Manager / SSM Parameter Store ARN. Only references:
    # Batch resolves them when the container starts; locally `r2o run` takes the values from its
    # own environment. A value is never written anywhere by r2o.
    secrets: Mapping[str, str] = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_FILE

    def input(self, name: str) -> DataSpec:
        return _named(self.inputs, name, f"input of {self.name}")

    def output(self, name: str) -> DataSpec:
        return _named(self.outputs, name, f"output of {self.name}")

    def parameter(self, name: str) -> Parameter:
        """Parameter ``name``; an unknown name is a UsageError with a "did you mean" hint."""
        found = self.parameters.get(name)
        if found is None:
            hint = did_you_mean(name, self.parameters) or (
                f"{self.name} takes: {', '.join(self.parameters) or 'no parameters'}"
            )
            raise UsageError(f"{self.name} has no parameter '{name}'", hint=hint)
        return found

    def parse_parameters(self, given: Mapping[str, str]) -> dict[str, Any]:
        """Parameters given as text (``-p NAME=VALUE``, a golden case, a pipeline task) as typed
        values, each checked against its type and bounds: the one parser every backend uses."""
        return {name: self.parameter(name).parse(text) for name, text in given.items()}

    def resolve_parameters(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``given`` (already typed); unknown or missing names are errors."""
        for key in given:
            self.parameter(key)
        values: dict[str, Any] = {}
        for name, param in self.parameters.items():
            if name in given:
                values[name] = given[name]
            elif param.default is not None:
                values[name] = param.default
            else:
                raise UsageError(
                    f"{self.name} needs parameter '{name}' ({param.type})", hint=f"pass -p {name}=VALUE"
                )
        return values

    def command_with(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        """The command with every Ref::name replaced by its value (AWS Batch semantics)."""
        return tuple(
            Parameter.format(values[arg[len(REF_PREFIX) :]]) if arg.startswith(REF_PREFIX) else arg
            for arg in self.command
        )


def _named(items: tuple[DataSpec, ...], name: str, what: str) -> DataSpec:
    for item in items:
        if item.name == name:
            return item
    hint = (
        did_you_mean(name, [i.name for i in items]) or f"known: {', '.join(i.name for i in items) or 'none'}"
    )
    raise UsageError(f"no {what} named '{name}'", hint=hint)


# --- semantic checks -----------------------------------------------------------------------------

Check = Callable[[dict[str, Any], YamlDocument], list[Problem]]
CHECKS: list[Check] = []


def check(func: Check) -> Check:
    """Register a semantic check; its docstring is the rule users read."""
    CHECKS.append(func)
    return func


def _p(doc: YamlDocument, at: tuple[str | int, ...], message: str, hint: str = "") -> Problem:
    return Problem(doc.file, strict_yaml.format_path(at), message, doc.line(at), hint)


@check
def _name_is_valid(data: dict[str, Any], doc: YamlDocument) -> list[Problem]:
    """A component's name is valid as an image, ECR repository, CloudFormation id and job definition."""
    problem = names.problem(data["name"])
    return [_p(doc, ("name",), problem, names.hint(data["name"]))] if problem else []


@check
def _version_fits_an_image_tag(data: dict[str, Any], doc: YamlDocument) -> list[Problem]:
    """The version can start the image's Docker tag (no build metadata)."""
    problem = names.version_problem(data["version"])
    hint = "drop the +... part, or use a pre-release suffix such as 1.0.0-rc1"
    return [_p(doc, ("version",), problem, hint)] if problem else []


@check
def _name_matches_folder(data: dict[str, Any], doc: YamlDocument) -> list[Problem]:
    """A component's name equals its folder's name."""
    folder = doc.file.parent.name
    if data["name"] != folder:
        return [
            _p(
                doc,
                ("name",),
                f"'{data['name']}' differs from the folder name '{folder}'",
                f"set name: {folder}, or rename the folder",
            )
        ]
    return []


@check
def _refs_are_declared(data: dict[str, Any], doc: YamlDocument) -> list[Problem]:
    """Every Ref:: in the command names a declared parameter and is a whole argument."""
    params = data.get("parameters", {})
    out = []
    for i, arg in enumerate(data["command"]):
        for name in _REF.findall(arg):
            if name not in params:
                hint = did_you_mean(name, params) or "declare it under parameters:"
                out.append(_p(doc, ("command", i), f"Ref::{name} names no declared parameter", hint))
        if REF_PREFIX in arg and not _REF.fullmatch(arg):
            out.append(
                _p(
                    doc,
                    ("command", i),
                    f"'{arg}': a Ref:: placeholder must be a whole argument",
                    "AWS Batch substitutes whole arguments only; split the argument",
                )
            )
    return out


@check
def _parameters_are_coherent(data: dict[str, Any], doc: YamlDocument) -> list[Problem]:
    """Defaults satisfy their own type and bounds; enums list values; bounds are ordered."""
    out = []
    for name, spec in data.get("parameters", {}).items():
        at = ("parameters", name)
        ptype = spec["type"]
        if ptype == "enum" and "values" not in spec:
            out.append(_p(doc, at, "an enum parameter needs 'values'"))
        if ptype != "enum" and "values" in spec:
            out.append(_p(doc, (*at, "values"), f"'values' only applies to enum parameters, not {ptype}"))
        if ("minimum" in spec or "maximum" in spec) and ptype not in ("integer", "number"):
            out.append(_p(doc, at, f"minimum/maximum only apply to integer and number, not {ptype}"))
        lo, hi = spec.get("minimum"), spec.get("maximum")
        if lo is not None and hi is not None and lo > hi:
            out.append(_p(doc, (*at, "minimum"), f"minimum {lo} is above maximum {hi}"))
        if "default" in spec:
            param = _parameter(name, spec)
            problem = param.check(spec["default"])
            if problem:
                out.append(_p(doc, (*at, "default"), f"default {problem}"))
        elif spec.get("required") is False:
            out.append(
                _p(doc, at, "an optional parameter needs a default", "add default: or drop required: false")
            )
    return out


def _container_path_problem(path: str) -> str:
    p = PurePosixPath(path)
    if not p.is_absolute():
        return f"'{path}' is not an absolute container path"
    if ".." in p.parts:
        return f"'{path}' contains '..'"
    if path != str(p) or path.endswith("/"):
        return f"'{path}' is not in normal form (write {p})"
    return ""


@check
def _data_specs_are_sound(data: dict[str, Any], doc: YamlDocument) -> list[Problem]:
    """Input/output names and paths are unique, absolute, without '..'; outputs live under /data/output."""
    out = []
    names: dict[str, tuple[str | int, ...]] = {}
    paths: dict[str, tuple[str | int, ...]] = {}
    stdout_count = 0
    for section in ("inputs", "outputs"):
        for i, spec in enumerate(data.get(section, [])):
            at: tuple[str | int, ...] = (section, i)
            if spec["name"] in names:
                out.append(
                    _p(
                        doc,
                        (*at, "name"),
                        f"name '{spec['name']}' is used twice "
                        f"(also {strict_yaml.format_path(names[spec['name']])})",
                    )
                )
            names.setdefault(spec["name"], at)
            path = spec["path"]
            if section == "outputs" and path == STDOUT:
                stdout_count += 1
                if stdout_count > 1:
                    out.append(_p(doc, (*at, "path"), "only one output can be stdout"))
                continue
            problem = _container_path_problem(path)
            if problem:
                example = (INPUT_ROOT if section == "inputs" else OUTPUT_ROOT) / "file.nc"
                out.append(_p(doc, (*at, "path"), problem, f"use an absolute path such as {example}"))
                continue
            if path in paths:
                out.append(
                    _p(
                        doc,
                        (*at, "path"),
                        f"path '{path}' is used twice (also {strict_yaml.format_path(paths[path])})",
                    )
                )
            paths.setdefault(path, at)
            root = INPUT_ROOT if section == "inputs" else OUTPUT_ROOT
            pure = PurePosixPath(path)
            if not pure.is_relative_to(root) or pure == root:
                verb = "mounted (read-only)" if section == "inputs" else "collected"
                where = "is the" if pure == root else "is outside the"
                out.append(
                    _p(
                        doc,
                        (*at, "path"),
                        f"'{path}' {where} {section[:-1]} root {root}: {section} are {verb} only from "
                        f"files and folders inside {root}/",
                        f"write a path under {root}/, e.g. {root / (pure.name if pure != root else 'name')}",
                    )
                )
    return out


@check
def _environment_holds_no_secrets(data: dict[str, Any], doc: YamlDocument) -> list[Problem]:
    """``environment:`` holds no secret-looking names or values; secrets go under ``secrets:`` as ARNs."""
    out = []
    for name, value in data.get("environment", {}).items():
        at = ("environment", name)
        if name.upper().startswith(RESERVED_ENV_PREFIX):
            out.append(_p(doc, at, f"names starting {RESERVED_ENV_PREFIX} are reserved by AWS Batch"))
            continue
        problem = sensitive.problem(name, value)
        if problem:
            out.append(
                _p(
                    doc,
                    at,
                    f"{problem}: values in environment: are written in plain text into the job definition",
                    f"store the value in Secrets Manager or SSM Parameter Store and reference it: "
                    f"secrets: {{{name}: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME}}",
                )
            )
    return out


@check
def _secrets_are_references(data: dict[str, Any], doc: YamlDocument) -> list[Problem]:
    """Each ``secrets:`` entry maps a variable name to a Secrets Manager or SSM Parameter Store ARN."""
    out = []
    environment = data.get("environment", {})
    for name, arn in data.get("secrets", {}).items():
        at = ("secrets", name)
        if name.upper().startswith(RESERVED_ENV_PREFIX):
            out.append(_p(doc, at, f"names starting {RESERVED_ENV_PREFIX} are reserved by AWS Batch"))
        if name in environment:
            out.append(
                _p(
                    doc,
                    at,
                    f"{name} is both in environment: and in secrets:",
                    "keep it in secrets: only (the container sees the secret's value under that name)",
                )
            )
        if _PARTIAL_SECRETS_MANAGER_ARN.match(arn) and not SECRETS_MANAGER_ARN.match(arn):
            out.append(
                _p(
                    doc,
                    at,
                    f"'{arn}' is a partial Secrets Manager ARN: the job's execution role is granted "
                    "exactly this ARN, and IAM matches the full one (its name ends in the 6 characters "
                    "Secrets Manager appends)",
                    "write the full ARN: aws secretsmanager describe-secret --secret-id NAME --query ARN",
                )
            )
        elif not (SECRETS_MANAGER_ARN.match(arn) or SSM_PARAMETER_ARN.match(arn)):
            out.append(
                _p(
                    doc,
                    at,
                    f"'{arn}' is not the ARN of a Secrets Manager secret or an SSM parameter",
                    "write arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME or "
                    "arn:aws:ssm:REGION:ACCOUNT:parameter/NAME (the value itself never goes in a manifest)",
                )
            )
    return out


@check
def _resources_fit_batch(data: dict[str, Any], doc: YamlDocument) -> list[Problem]:
    """Resources sit inside AWS Batch's limits (EC2 integer vCPUs, Fargate pairs, attempts, timeout)."""
    res = data["resources"]
    at = ("resources",)
    platforms = res.get("platforms", ["EC2"])
    vcpus, memory = res["vcpus"], res["memory_mib"]
    out = []
    if "EC2" in platforms and (vcpus != int(vcpus) or vcpus < 1):
        out.append(
            _p(
                doc,
                (*at, "vcpus"),
                f"EC2 needs a whole number of vCPUs >= 1, not {vcpus}",
                "use 1, 2, ...; fractional vCPUs exist only on FARGATE",
            )
        )
    if "FARGATE" in platforms:
        allowed = FARGATE_MEMORY.get(float(vcpus))
        if allowed is None:
            out.append(
                _p(
                    doc,
                    (*at, "vcpus"),
                    f"FARGATE does not offer {vcpus} vCPUs",
                    f"choose one of {', '.join(_num(v) for v in FARGATE_MEMORY)}",
                )
            )
        elif memory not in allowed:
            shown = ", ".join(map(str, allowed))
            out.append(
                _p(
                    doc,
                    (*at, "memory_mib"),
                    f"FARGATE with {_num(vcpus)} vCPU does not offer {memory} MiB",
                    f"choose one of {shown}",
                )
            )
        if res.get("gpus", 0):
            out.append(
                _p(doc, (*at, "gpus"), "FARGATE has no GPUs", "drop FARGATE from platforms or set gpus: 0")
            )
    retries = res.get("retries", 1)
    if not 1 <= retries <= MAX_ATTEMPTS:
        out.append(_p(doc, (*at, "retries"), f"{retries} attempts is outside AWS Batch's 1-{MAX_ATTEMPTS}"))
    timeout = res.get("timeout_s", 3600)
    if timeout < MIN_TIMEOUT_S:
        out.append(
            _p(doc, (*at, "timeout_s"), f"{timeout} s is below AWS Batch's minimum of {MIN_TIMEOUT_S} s")
        )
    return out


def secret_resource(arn: str) -> str:
    """The ARN an IAM policy grants for a ``secrets:`` value (a secret without its ECS selector)."""
    match = SECRETS_MANAGER_ARN.match(arn)
    return match.group("secret") if match else arn


def _parameter(name: str, spec: Mapping[str, Any]) -> Parameter:
    return Parameter(
        name=name,
        type=spec["type"],
        default=spec.get("default"),
        minimum=spec.get("minimum"),
        maximum=spec.get("maximum"),
        values=tuple(spec.get("values", ())),
        required=spec.get("required", "default" not in spec),
        description=spec.get("description", ""),
    )


def _data_spec(spec: Mapping[str, Any], *, is_input: bool) -> DataSpec:
    return DataSpec(
        name=spec["name"],
        path=spec["path"],
        kind=spec.get("kind", "file"),
        format=spec.get("format", "any"),
        required=spec.get("required", True) if is_input else True,
        description=spec.get("description", ""),
    )


def problems_in(doc: YamlDocument) -> list[Problem]:
    """Schema problems, or (when the shape is right) semantic problems."""
    if not isinstance(doc.data, dict):
        return [
            Problem(
                doc.file,
                "",
                f"expected a mapping of manifest fields at the top level, found {type(doc.data).__name__}",
                doc.line(()),
            )
        ]
    problems = schema.validate(doc, "component")
    if problems:
        return problems  # semantic checks assume the right shape and finite numbers
    out: list[Problem] = []
    for rule in CHECKS:
        out.extend(rule(doc.data, doc))
    return out


def from_document(doc: YamlDocument) -> Component:
    problems = problems_in(doc)
    if problems:
        raise ManifestError(problems)
    d = doc.data
    res = d["resources"]
    build = d.get("build", {})
    return Component(
        name=d["name"],
        version=d["version"],
        description=d["description"],
        base=d["base"],
        command=tuple(d["command"]),
        folder=doc.file.parent,
        owners=tuple(d.get("owners", ())),
        entrypoint=tuple(d.get("entrypoint", ())),
        build=Build(
            dockerfile=build.get("dockerfile", "Dockerfile"),
            include=tuple(build.get("include", ())),
            args=dict(build.get("args", {})),
            images=dict(build.get("images", {})),
            minutes=float(build["minutes"]) if "minutes" in build else None,
        ),
        environment=dict(d.get("environment", {})),
        parameters={n: _parameter(n, s) for n, s in d.get("parameters", {}).items()},
        resources=Resources(
            vcpus=res["vcpus"],
            memory_mib=res["memory_mib"],
            gpus=res.get("gpus", 0),
            timeout_s=res.get("timeout_s", 3600),
            retries=res.get("retries", 1),
            platforms=tuple(res.get("platforms", ("EC2",))),
            storage_mib=res.get("storage_mib", DEFAULT_STORAGE_MIB),
        ),
        inputs=tuple(_data_spec(s, is_input=True) for s in d.get("inputs", ())),
        outputs=tuple(_data_spec(s, is_input=False) for s in d.get("outputs", ())),
        network=d.get("network", False),
        outputs_extra=d.get("outputs_extra", "drop"),
        secrets=dict(d.get("secrets", {})),
    )


def load(folder: Path) -> Component:
    """Load and check ``folder/component.yaml``."""
    return from_document(strict_yaml.load(folder / MANIFEST_FILE))
