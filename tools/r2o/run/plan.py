"""What a component run will do, as data: argv, mounts, limits. Built without touching Docker."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r2o.errors import InputError, UsageError
from r2o.fs import kind_of
from r2o.manifest import DEFAULT_PIDS_LIMIT, DEFAULT_STORAGE_MIB, OUTPUT_ROOT, TMPFS_MIB, Component
from r2o.run.secret_env import secret_environment


@dataclass(frozen=True)
class Mount:
    host: Path
    container: str
    read_only: bool = True


@dataclass(frozen=True)
class Limits:
    """The manifest's AWS Batch limits, applied to local runs too."""

    vcpus: float
    memory_mib: int
    timeout_s: int
    network: bool = False
    pids: int = DEFAULT_PIDS_LIMIT
    tmpfs_mib: int = TMPFS_MIB
    storage_mib: int = DEFAULT_STORAGE_MIB  # what the run may write under /data/output


@dataclass(frozen=True)
class RunPlan:
    component: Component
    parameters: Mapping[str, Any]
    argv: tuple[str, ...]  # the manifest command, Ref:: substituted (Batch's "command")
    inputs: tuple[Mount, ...]
    output_dir: Path  # where outputs land on success
    limits: Limits
    environment: Mapping[str, str] = field(default_factory=dict)
    # secrets: values, from the caller's environment: handed to the engine in memory, never shown,
    # dumped or recorded (repr and comparison leave them out)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    image: str | None = None  # content-tagged image reference for container backends

    @property
    def stdout_output(self) -> str | None:
        """Name of the output captured from stdout, if the component declares one."""
        return next((o.name for o in self.component.outputs if o.is_stdout), None)

    def describe(self) -> str:
        lines = [f"component  {self.component.name} {self.component.version}"]
        if self.image:
            lines.append(f"image      {self.image}")
        lines.append(f"command    {' '.join(self.argv)}")
        for m in self.inputs:
            lines.append(f"input      {m.host} -> {m.container} (read-only)")
        lines.append(f"outputs    {self.output_dir} <- {OUTPUT_ROOT}")
        lim = self.limits
        lines.append(
            f"limits     {lim.vcpus:g} vCPU, {lim.memory_mib} MiB (no swap), timeout {lim.timeout_s} s, "
            f"network {'on' if lim.network else 'off'}, pids {lim.pids}, storage {lim.storage_mib} MiB"
        )
        return "\n".join(lines)


def parse_assignments(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    """``("a=1", "b=x")`` -> ``{"a": "1", "b": "x"}``; a malformed pair is a UsageError."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} '{pair}' is not of the form NAME=VALUE")
        if key in out:
            raise UsageError(f"{what} '{key}' is given twice")
        out[key] = value
    return out


def make_plan(
    component: Component,
    *,
    parameters: Mapping[str, str],
    inputs: Mapping[str, Path],
    output_dir: Path,
    timeout_s: int | None = None,
    image: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunPlan:
    """Check parameters and inputs against the manifest and resolve the command; the component's
    ``secrets:`` are read from ``environ`` (default: this process's environment)."""
    values = component.resolve_parameters(component.parse_parameters(parameters))
    mounts: list[Mount] = []
    for key in inputs:
        component.input(key)  # raises with a hint for unknown names
    for spec in component.inputs:
        host = inputs.get(spec.name)
        if host is None:
            if spec.required:
                raise UsageError(
                    f"{component.name} needs input '{spec.name}' ({spec.format}, {spec.kind})",
                    hint=f"pass --input {spec.name}=PATH",
                )
            continue
        host = host.resolve()
        try:
            mode = host.stat().st_mode
        except OSError:
            raise InputError(
                f"input '{spec.name}': {host} does not exist", hint=f"pass --input {spec.name}=PATH"
            ) from None
        want = "folder" if spec.kind == "directory" else "file"
        if kind_of(mode) != want:
            raise InputError(
                f"input '{spec.name}' must be a {'directory' if want == 'folder' else 'file'}; "
                f"{host} is a {kind_of(mode)}",
                hint=f"pass --input {spec.name}=PATH with a {spec.format} {spec.kind}",
            )
        mounts.append(Mount(host, spec.path, read_only=True))
    res = component.resources
    if timeout_s is not None and timeout_s < 1:
        raise UsageError(f"--timeout must be at least 1 second, not {timeout_s}")
    return RunPlan(
        component=component,
        parameters=values,
        argv=component.command_with(values),
        inputs=tuple(mounts),
        output_dir=output_dir.resolve(),
        limits=Limits(
            vcpus=res.vcpus,
            memory_mib=res.memory_mib,
            timeout_s=timeout_s if timeout_s is not None else res.timeout_s,
            network=component.network,
            storage_mib=res.storage_mib,
        ),
        environment=dict(component.environment),
        secrets=secret_environment(component, os.environ if environ is None else environ),
        image=image,
    )
