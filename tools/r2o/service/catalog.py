"""The products the service offers: every pipeline and every component, each with the JSON Schema of
its launch parameters, derived from the manifests (the web form is drawn from the same schema the
server validates with).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from r2o.images.plan import ImageGraph
from r2o.manifest import Component, Parameter
from r2o.pipeline import spec
from r2o.pipeline.spec import Pipeline
from r2o.repo import Repository

PIPELINE = "pipeline"
COMPONENT = "component"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def parameter_schema(p: Parameter) -> dict[str, Any]:
    """One manifest parameter as a JSON Schema property."""
    out: dict[str, Any]
    if p.type == "integer":
        out = {"type": "integer"}
    elif p.type == "number":
        out = {"type": "number"}
    elif p.type == "boolean":
        out = {"type": "boolean"}
    elif p.type == "date":
        out = {"type": "string", "format": "date"}
    elif p.type == "enum":
        out = {"type": "string", "enum": list(p.values)}
    else:
        out = {"type": "string"}
    if p.minimum is not None:
        out["minimum"] = p.minimum
    if p.maximum is not None:
        out["maximum"] = p.maximum
    if p.default is not None:
        out["default"] = p.default
    out["title"] = p.name
    if p.description:
        out["description"] = p.description
    return out


def component_schema(c: Component) -> dict[str, Any]:
    required = [n for n, p in c.parameters.items() if p.default is None]
    return {
        "$schema": SCHEMA_DIALECT,
        "title": f"{c.name} parameters",
        "type": "object",
        "additionalProperties": False,
        "properties": {n: parameter_schema(p) for n, p in c.parameters.items()},
        "required": required,
    }


def pipeline_schema(p: Pipeline, max_days: int) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_DIALECT,
        "title": f"{p.name} date range",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "start": {
                "type": "string",
                "format": "date",
                "title": "first day",
                "description": "the first day of the forecast (UTC), YYYY-MM-DD",
            },
            "days": {
                "type": "integer",
                "minimum": 1,
                "maximum": max_days,
                "default": 1,
                "title": "days",
                "description": f"how many days, from the first; at most {max_days}",
            },
        },
        "required": ["start"],
    }


@dataclass(frozen=True)
class ProductInput:
    name: str
    format: str
    kind: str
    required: bool
    description: str
    per_day: bool = False
    prepared: bool = False  # the service makes a missing file itself

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "format": self.format,
            "kind": self.kind,
            "required": self.required,
            "description": self.description,
            "per_day": self.per_day,
            "prepared_by_service": self.prepared,
        }


@dataclass(frozen=True)
class Product:
    name: str
    kind: str  # PIPELINE or COMPONENT
    description: str
    version: str
    content_tag: str
    owners: tuple[str, ...]
    schema: Mapping[str, Any]
    inputs: tuple[ProductInput, ...] = ()
    vcpus: float = 1.0  # the most any one task asks for
    components: tuple[str, ...] = ()
    max_days: int | None = None
    typical: Mapping[str, float] = field(default_factory=dict)  # component -> seconds a task takes at most

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "version": self.version,
            "content_tag": self.content_tag,
            "owners": list(self.owners),
            "parameters_schema": self.schema,
            "inputs": [i.as_dict() for i in self.inputs],
            "components": list(self.components),
            "vcpus": self.vcpus,
        }
        if self.max_days is not None:
            out["date_range"] = {"max_days": self.max_days}
        return out


class Catalog:
    """Every product of a repository, made once (manifests read once, tags computed once)."""

    def __init__(self, repo: Repository, *, max_days: int) -> None:
        self.repo = repo
        self.max_days = max_days

    @cached_property
    def graph(self) -> ImageGraph:
        return ImageGraph.from_repo(self.repo)

    @cached_property
    def pipelines(self) -> dict[str, Pipeline]:
        names, _ = spec.problems_in_repo(self.repo)
        return {n: spec.load(self.repo, n) for n in names}

    @cached_property
    def products(self) -> dict[str, Product]:
        out: dict[str, Product] = {}
        for name, p in sorted(self.pipelines.items()):
            out[name] = self._pipeline(p)
        for name, c in sorted(self.repo.components.items()):
            if name not in out:
                out[name] = self._component(c)
        return out

    def product(self, name: str) -> Product | None:
        return self.products.get(name)

    def _component(self, c: Component) -> Product:
        tag = self.graph.ref(c.name)
        return Product(
            name=c.name,
            kind=COMPONENT,
            description=c.description,
            version=c.version,
            content_tag=tag,
            owners=c.owners,
            schema=component_schema(c),
            inputs=tuple(ProductInput(i.name, i.format, i.kind, i.required, i.description) for i in c.inputs),
            vcpus=c.resources.vcpus,
            components=(c.name,),
            typical={c.name: float(c.resources.timeout_s)},
        )

    def _pipeline(self, p: Pipeline) -> Product:
        components = tuple(dict.fromkeys(s.component.name for s in p.steps.values()))
        tags = [self.graph.ref(c) for c in components]
        digest = hashlib.sha256("\n".join([p.file.read_text(), *tags]).encode()).hexdigest()[:12]
        owners = tuple(dict.fromkeys(o for s in p.steps.values() for o in s.component.owners))
        return Product(
            name=p.name,
            kind=PIPELINE,
            description=p.description,
            version=digest,
            content_tag=f"{p.name}:{digest}",
            owners=owners,
            schema=pipeline_schema(p, self.max_days),
            inputs=tuple(
                ProductInput(
                    i.name, i.format, i.kind, True, i.description, per_day=i.per_day, prepared=bool(i.prepare)
                )
                for i in p.inputs.values()
            ),
            vcpus=max(s.component.resources.vcpus for s in p.steps.values()),
            components=components,
            max_days=self.max_days,
            typical={s.component.name: float(s.component.resources.timeout_s) for s in p.steps.values()},
        )
