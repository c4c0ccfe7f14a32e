"""A launch request, checked: what would run, what it costs, or every error with its field.

``check`` answers `POST /runs` (with ``validate_only`` it is the whole answer). The same request,
stored with the run, is turned back into the task graph by ``graph_for`` when a worker executes it,
so a server restarted after a crash runs exactly what was accepted.

A component run is a one-step pipeline whose inputs are the user's uploads; a pipeline run reads
its external inputs from the run's own folder (``inputs/``), filled by the worker from the user's
uploads (per day), the repository's shared files, or the input's ``prepare`` command.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema

from r2o.errors import R2OError
from r2o.manifest import Component
from r2o.pipeline import plan as planning
from r2o.pipeline.spec import Binding, Pipeline, PipelineInput, Step
from r2o.service.catalog import COMPONENT, Catalog, Product
from r2o.service.config import ServiceConfig
from r2o.service.store import Store, Upload

NAME_MAX = 200
TAGS_MAX = 20
_TAG_KEY = re.compile(r"^[A-Za-z0-9_.:/=+@-]{1,128}$")


@dataclass(frozen=True)
class FieldError:
    field: str  # "parameters.size", "inputs.coarse", "product", "name"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True)
class StepCost:
    step: str
    component: str
    tasks: int
    vcpus: float
    seconds_per_task: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "component": self.component,
            "tasks": self.tasks,
            "vcpus": self.vcpus,
            "seconds_per_task": round(self.seconds_per_task, 1),
        }


@dataclass(frozen=True)
class Launch:
    """A request that passed every check, and what it will run."""

    product: Product
    name: str
    parameters: Mapping[str, Any]
    inputs: Mapping[str, Any]
    tags: Mapping[str, str]
    graph: planning.TaskGraph
    steps: tuple[StepCost, ...]
    vcpu_hours: float
    cost: float
    currency: str
    start: str | None = None
    days: int | None = None
    prepared: tuple[str, ...] = field(default=())  # inputs the service will make

    @property
    def tasks(self) -> int:
        return len(self.graph.tasks)

    def plan_dict(self) -> dict[str, Any]:
        return {
            "product": self.product.name,
            "kind": self.product.kind,
            "tasks": self.tasks,
            "vcpu_hours": round(self.vcpu_hours, 4),
            "estimated_cost": round(self.cost, 4),
            "currency": self.currency,
            "steps": [s.as_dict() for s in self.steps],
            "parameters": dict(self.parameters),
            "prepared_inputs": list(self.prepared),
        }


def check(
    catalog: Catalog,
    store: Store,
    config: ServiceConfig,
    body: Mapping[str, Any],
    *,
    user: str,
) -> tuple[Launch | None, list[FieldError]]:
    """Every check a launch must pass, all errors at once (each with its field)."""
    errors: list[FieldError] = []
    name = body.get("product")
    product = catalog.product(name) if isinstance(name, str) else None
    if product is None:
        known = ", ".join(catalog.products)
        errors.append(FieldError("product", f"no product named {name!r}; products: {known}"))
        return None, errors
    run_name = body.get("name") or ""
    if not isinstance(run_name, str) or len(run_name) > NAME_MAX or "\n" in run_name:
        errors.append(FieldError("name", f"a run name is one line of at most {NAME_MAX} characters"))
        run_name = ""
    tags = body.get("tags") or {}
    if not isinstance(tags, dict) or len(tags) > TAGS_MAX:
        errors.append(FieldError("tags", f"tags are at most {TAGS_MAX} key: value pairs"))
        tags = {}
    for key, value in tags.items():
        if not _TAG_KEY.match(str(key)) or not isinstance(value, str) or len(value) > 256:
            errors.append(
                FieldError(f"tags.{key}", "a tag is a key (letters, digits, _.:/=+@-) and a text value")
            )
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        errors.append(FieldError("parameters", "must be an object of parameter values"))
        return None, errors
    for err in sorted(
        jsonschema.Draft202012Validator(
            product.schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).iter_errors(parameters),
        key=lambda e: list(map(str, e.path)),
    ):
        where = ".".join(["parameters", *map(str, err.absolute_path)])
        if err.validator == "additionalProperties":
            extra = sorted(set(parameters) - set(product.schema.get("properties", {})))
            for key in extra:
                errors.append(FieldError(f"parameters.{key}", f"{product.name} has no parameter '{key}'"))
            continue
        if err.validator == "required":
            missing = str(err.message).split("'")[1]
            errors.append(FieldError(f"parameters.{missing}", "required"))
            continue
        errors.append(FieldError(where, _schema_message(err)))
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict):
        errors.append(FieldError("inputs", "must be an object: input name -> upload id"))
        inputs = {}
    if errors:
        return None, errors
    if product.kind == COMPONENT:
        return _check_component(
            catalog, store, config, product, run_name, parameters, inputs, tags, user=user
        )
    return _check_pipeline(catalog, store, config, product, run_name, parameters, inputs, tags, user=user)


def _schema_message(err: jsonschema.ValidationError) -> str:
    if err.validator in ("minimum", "maximum"):
        word = "below the minimum" if err.validator == "minimum" else "above the maximum"
        return f"{err.instance} is {word} {err.validator_value}"
    if err.validator == "enum":
        allowed: list[Any] = list(err.validator_value)  # type: ignore[arg-type]
        return f"{err.instance!r} is not one of {', '.join(map(str, allowed))}"
    if err.validator == "type":
        return f"must be {'an' if str(err.validator_value)[0] in 'aeiou' else 'a'} {err.validator_value}"
    if err.validator == "format":
        return f"{err.instance!r} is not a {err.validator_value} (YYYY-MM-DD)"
    return str(err.message)


def _owned_upload(
    store: Store, upload_id: Any, user: str, where: str, errors: list[FieldError]
) -> Upload | None:
    found = store.upload(upload_id) if isinstance(upload_id, str) else None
    if found is None or found.user != user:
        errors.append(
            FieldError(
                where, f"no upload {upload_id!r} of yours; upload the file first (POST /api/v1/uploads)"
            )
        )
        return None
    return found


def _check_component(
    catalog: Catalog,
    store: Store,
    config: ServiceConfig,
    product: Product,
    run_name: str,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, Any],
    tags: Mapping[str, str],
    *,
    user: str,
) -> tuple[Launch | None, list[FieldError]]:
    errors: list[FieldError] = []
    component = catalog.repo.component(product.name)
    declared = {i.name: i for i in component.inputs}
    uploads: dict[str, str] = {}
    for key, upload_id in inputs.items():
        if key not in declared:
            errors.append(FieldError(f"inputs.{key}", f"{component.name} has no input '{key}'"))
            continue
        if declared[key].kind == "directory":
            errors.append(
                FieldError(f"inputs.{key}", "a directory input cannot be uploaded yet; use the CLI")
            )
            continue
        if _owned_upload(store, upload_id, user, f"inputs.{key}", errors) is not None:
            uploads[key] = upload_id
    for spec in component.inputs:
        if spec.required and spec.name not in inputs:
            errors.append(
                FieldError(
                    f"inputs.{spec.name}", f"required: upload a {spec.format} file ({spec.description})"
                )
            )
    values = {
        **{n: p.default for n, p in component.parameters.items() if p.default is not None},
        **parameters,
    }
    for key, value in values.items():
        problem = component.parameters[key].check(value)
        if problem:
            errors.append(FieldError(f"parameters.{key}", problem))
    if errors:
        return None, errors
    graph = graph_for_component(component, values, {k: Path("/nonexistent") / k for k in uploads})
    return _costed(store, config, product, run_name, values, uploads, tags, graph), []


def _check_pipeline(
    catalog: Catalog,
    store: Store,
    config: ServiceConfig,
    product: Product,
    run_name: str,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, Any],
    tags: Mapping[str, str],
    *,
    user: str,
) -> tuple[Launch | None, list[FieldError]]:
    errors: list[FieldError] = []
    pipeline = catalog.pipelines[product.name]
    start = dt.date.fromisoformat(parameters["start"])
    days = int(parameters.get("days", 1))
    try:
        graph = planning.make_graph(pipeline, start, days)
    except R2OError as exc:
        return None, [FieldError("parameters", exc.message)]
    dates = set(graph.dates)
    uploads: dict[str, dict[str, str]] = {}
    for key, by_day in inputs.items():
        pin = pipeline.inputs.get(key)
        if pin is None:
            errors.append(FieldError(f"inputs.{key}", f"{product.name} takes no input '{key}'"))
            continue
        if not isinstance(by_day, dict):
            errors.append(FieldError(f"inputs.{key}", "must map each day (YYYY-MM-DD) to an upload id"))
            continue
        for day, upload_id in by_day.items():
            if pin.per_day and day not in dates:
                errors.append(FieldError(f"inputs.{key}.{day}", "not a day of this run"))
            elif _owned_upload(store, upload_id, user, f"inputs.{key}.{day}", errors) is not None:
                uploads.setdefault(key, {})[day] = upload_id
    prepared: list[str] = []
    for pin in pipeline.inputs.values():
        for day in sorted(dates) if pin.per_day else [""]:
            if day in uploads.get(pin.name, {}) or shared_file(catalog.repo.root, pin, day).exists():
                continue
            if pin.prepare:
                prepared.append(f"{pin.name} {day}".strip())
            else:
                errors.append(
                    FieldError(
                        f"inputs.{pin.name}",
                        f"no file for {day or 'the run'}: upload one ({pin.description})",
                    )
                )
    if errors:
        return None, errors
    values = {"start": start.isoformat(), "days": days}
    launch = _costed(store, config, product, run_name, values, uploads, tags, graph)
    return replace(launch, start=start.isoformat(), days=days, prepared=tuple(prepared)), []


def _costed(
    store: Store,
    config: ServiceConfig,
    product: Product,
    run_name: str,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, Any],
    tags: Mapping[str, str],
    graph: planning.TaskGraph,
) -> Launch:
    """Estimated from history where there is some (the mean time the component's tasks took here),
    else from the manifest's timeout: an upper bound, never an underestimate."""
    steps: dict[str, StepCost] = {}
    for task in graph.tasks:
        seconds = store.mean_task_seconds(task.component) or product.typical.get(task.component, 3600.0)
        prev = steps.get(task.step)
        steps[task.step] = StepCost(
            task.step, task.component, (prev.tasks if prev else 0) + 1, task.vcpus, seconds
        )
    vcpu_hours = sum(s.tasks * s.vcpus * s.seconds_per_task for s in steps.values()) / 3600.0
    return Launch(
        product=product,
        name=run_name or f"{product.name} {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}",
        parameters=dict(parameters),
        inputs=dict(inputs),
        tags=dict(tags),
        graph=graph,
        steps=tuple(steps.values()),
        vcpu_hours=vcpu_hours,
        cost=math.ceil(vcpu_hours * config.prices.vcpu_hour * 10_000) / 10_000,
        currency=config.prices.currency,
    )


# --- the graph a worker executes --------------------------------------------------------------------


def shared_file(root: Path, pin: PipelineInput, day: str) -> Path:
    """Where the repository keeps a pipeline input (AQcast: .r2o/inputs/coarse/coarse_DAY.nc)."""
    text = pin.path.replace("${day}", day)
    return Path(text) if Path(text).is_absolute() else root / text


def run_input_path(run_dir: Path, pin: PipelineInput) -> str:
    """The per-run path template of a pipeline input: the run reads its own copies."""
    name = PurePosixPath(pin.path).name
    return str(run_dir / "inputs" / pin.name / name)


def graph_for_pipeline(pipeline: Pipeline, run_dir: Path, start: str, days: int) -> planning.TaskGraph:
    """The run's task graph: the pipeline, its inputs read from the run folder."""
    own = replace(
        pipeline,
        inputs={n: replace(p, path=run_input_path(run_dir, p)) for n, p in pipeline.inputs.items()},
    )
    return planning.make_graph(own, dt.date.fromisoformat(start), days)


def graph_for_component(
    component: Component, parameters: Mapping[str, Any], inputs: Mapping[str, Path]
) -> planning.TaskGraph:
    """A component run as a one-step pipeline (so it is cached, logged and recorded like any task)."""
    pins = {
        name: PipelineInput(name, str(path), component.input(name).format, component.input(name).kind)
        for name, path in inputs.items()
    }
    step = Step(
        component.name,
        component,
        None,
        dict(parameters),
        {name: Binding(pipeline=name) for name in inputs},
    )
    pipeline = Pipeline(
        name=component.name,
        description=component.description,
        file=component.manifest_path,
        inputs=pins,
        steps={component.name: step},
    )
    return planning.make_graph(pipeline, dt.datetime.now(dt.UTC).date(), 1)
