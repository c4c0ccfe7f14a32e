"""moto's Batch, in this process, taught the dependency types it lacks; job definitions adapted to what
it can run. Used by the end-to-end test (docker tier).

moto runs each Batch job as a container of the local engine, but:

- it waits for a dependency's *job* to succeed: ``N_TO_N`` is not per index, and an entry without a
  ``jobId`` (``SEQUENTIAL``) makes it fail the job (KeyError). :func:`aws_dependencies` replaces its
  wait with AWS's documented rule: child i of an ``N_TO_N`` dependent waits for child i of the
  dependency, child i of a ``SEQUENTIAL`` array for child i - 1, a plain dependency on an array for all
  of its children; a failed dependency fails the job with "Dependent Job failed";
- it mounts only ``host.sourcePath`` volumes (a scratch volume without a host path fails the job):
  :func:`for_moto` drops the S3 mode's two scratch volumes, so the image's own /data/input and
  /data/output (owned by uid 1000) stand in for them;
- it ignores ``user`` (the image's uid 1000 runs r2o-stage, which then cannot make inputs root-owned),
  ``readonlyRootFilesystem``, tmpfs, resource limits, timeouts of the definition's retry strategy and
  retries; and it sets no ``AWS_BATCH_JOB_ARRAY_INDEX`` (r2o-stage reads the index from the job id);
- a job's container gets no AWS credentials: :func:`for_moto` adds the moto endpoint and test
  credentials to the definition's environment (on AWS the job role provides credentials).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from moto.batch import models

from r2o.render.batch import INPUT_VOLUME, OUTPUT_VOLUME

DEPENDENT_FAILED = "Dependent Job failed"


def _status(job: Any) -> str | None:
    """SUCCEEDED, FAILED, or None (still going); an array parent from its children."""
    children = job._child_jobs
    if children:
        statuses = [c.status for c in children]
        if "FAILED" in statuses:
            return "FAILED"
        return "SUCCEEDED" if all(s == "SUCCEEDED" for s in statuses) else None
    return job.status if job.status in ("SUCCEEDED", "FAILED") else None


def _wait_for_dependencies(self: Any) -> bool:
    index = self.array_properties.get("index")
    parent = self.job_id.split(":", 1)[0]
    waits: list[str] = []
    for dep in self.depends_on or []:
        kind = dep.get("type")
        if kind == "SEQUENTIAL":
            if index:
                waits.append(f"{parent}:{index - 1}")
        elif kind == "N_TO_N" and index is not None:
            waits.append(f"{dep['jobId']}:{index}")
        else:
            waits.append(dep["jobId"])
    while True:
        statuses = [_status(self.all_jobs[w]) if w in self.all_jobs else None for w in waits]
        if "FAILED" in statuses:
            self.job_stopped_reason = DEPENDENT_FAILED
            self._mark_stopped(success=False)
            return False
        if all(s == "SUCCEEDED" for s in statuses):
            return True
        time.sleep(0.5)
        if self.stop:
            self._mark_stopped(success=False)
            return False


@contextmanager
def aws_dependencies() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(models.Job, "_wait_for_dependencies", _wait_for_dependencies)
        yield


def for_moto(payload: Mapping[str, Any], environment: Mapping[str, str]) -> dict[str, Any]:
    """A rendered RegisterJobDefinition request as moto can run it (see the module docstring)."""
    out = copy.deepcopy(dict(payload))
    container = out["containerProperties"]
    scratch = {INPUT_VOLUME, OUTPUT_VOLUME}
    assert {
        v["name"] for v in container["volumes"] if "host" not in v and "efsVolumeConfiguration" not in v
    } == scratch
    container["volumes"] = [v for v in container["volumes"] if v["name"] not in scratch]
    container["mountPoints"] = [m for m in container["mountPoints"] if m["sourceVolume"] not in scratch]
    env = {e["name"]: e["value"] for e in container.get("environment", [])}
    env.update(environment)
    container["environment"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    return out
