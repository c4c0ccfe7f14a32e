"""S3 data mode of `r2o pipeline render`: scratch volumes, the stager's command, a job role per
component; each array child's stager spec, resolved as r2o-stage resolves it, is exactly its task.

References: the task graph (``make_graph`` of the pipeline with its inputs at ``inputs/<name>/<file>``,
the service's run layout) and the local run's argv (``r2o.run.plan``), never the rendering under test.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

import pytest

from r2o.aws.validate import check
from r2o.pipeline import batch, spec
from r2o.pipeline import plan as planning
from r2o.render.batch import BatchOptions, DataVolume
from r2o.repo import Repository
from tests.conftest import REPO_ROOT
from tests.pipeline.conftest import r2o
from tests.pipeline.test_launcher import _local_argv

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
BUCKET = "r2o-results-test"
WRF_ROLE = "arn:aws:iam::123456789012:role/r2o-job-wrf"
OTHER_ROLE = "arn:aws:iam::123456789012:role/r2o-job"


def render(*extra: str) -> dict[str, Any]:
    proc = r2o(
        "pipeline", "render", "aqcast", "--start", "2024-02-28", "--days", "3", "--registry", REGISTRY,
        "--data-s3-bucket", BUCKET, "--component-job-role", f"wrf={WRF_ROLE}", "--job-role-arn", OTHER_ROLE,
        "--json", *extra, cwd=REPO_ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rendered: dict[str, Any] = json.loads(proc.stdout)
    return rendered


def graph() -> planning.TaskGraph:
    pipeline = spec.load(Repository(REPO_ROOT), "aqcast")
    pipeline = type(pipeline)(
        **{
            **vars(pipeline),
            "inputs": {
                n: type(p)(**{**vars(p), "path": f"inputs/{n}/{PurePosixPath(p.path).name}"})
                for n, p in pipeline.inputs.items()
            },
        }
    )
    return planning.make_graph(pipeline, dt.date(2024, 2, 28), 3)


def test_definitions_have_scratch_volumes_the_root_stager_and_a_role_per_component() -> None:
    rendered = render()
    assert rendered["lake_run"] == "runs/aqcast-2024-02-28+3d"
    for definition in rendered["register_job_definitions"]:
        container = definition["containerProperties"]
        assert container["user"] == "0:0"  # r2o-stage drops to 1000 itself
        assert container["readonlyRootFilesystem"] is True
        assert {v["name"]: v for v in container["volumes"]}["input"] == {"name": "input"}
        assert {v["name"]: v for v in container["volumes"]}["output"] == {"name": "output"}
        mounts = {m["containerPath"]: m["sourceVolume"] for m in container["mountPoints"]}
        assert (mounts["/data/input"], mounts["/data/output"]) == ("input", "output")
        assert "/data/lake" not in mounts
        component = definition["tags"]["r2o:component"]
        assert container["jobRoleArn"] == (WRF_ROLE if component == "wrf" else OTHER_ROLE)
    for call in rendered["submit_jobs"]:
        assert call["containerOverrides"]["command"][0] == "r2o-stage"
        assert call["containerOverrides"]["command"][2] == "--"


def test_the_definitions_pass_botocore_validation_as_rendered() -> None:
    options = BatchOptions(registry=REGISTRY, data=DataVolume(s3_bucket=BUCKET))
    plan = batch.plan_pipeline(Repository(REPO_ROOT), "aqcast", dt.date(2024, 2, 28), 3, options)
    check(plan.definitions)  # raises on a problem
    assert batch.validate_submit_calls(plan.submit_calls("q")) == []


def expected_key(g: planning.TaskGraph, prefix: str, source: planning.Source) -> str:
    if source.path is not None:
        return f"{prefix}/{source.path}"
    assert source.task is not None and source.output is not None
    producer = g.pipeline.steps[source.task.split("/", 1)[0]].component
    out = producer.output(source.output)
    rel = "stdout.txt" if out.is_stdout else str(PurePosixPath(out.path).relative_to("/data/output"))
    return f"{prefix}/{source.task}/{rel}"


def test_each_childs_stager_spec_is_its_task(stager: ModuleType, tmp_path: Path) -> None:
    rendered = render()
    g = graph()
    prefix = rendered["lake_run"]
    checked = []
    for call in rendered["submit_jobs"]:
        step = call["tags"]["r2o:step"]
        command = call["containerOverrides"]["command"]
        stage = json.loads(command[1])
        assert (stage["bucket"], stage["run"]) == (BUCKET, prefix)
        component = g.pipeline.steps[step].component
        size = call.get("arrayProperties", {}).get("size", 1)
        for i in range(size):
            day, prev = stager.days(stage["first_day"], i)
            task = g.task(f"{step}/{day}" if day else step)
            assert stager.substitute(stage["task"], day, prev, prefix) == task.id
            argv = [a.replace("@DAY@", day) for a in command[3:]]
            assert tuple(argv) == _local_argv(g, task, tmp_path), task.id
            resolved = {}
            for entry in stage["inputs"]:
                if entry["kind"] == "all":
                    first = dt.date.fromisoformat(entry["first"])
                    resolved[entry["name"]] = [
                        stager.substitute(
                            entry["key"].replace("@D@", (first + dt.timedelta(days=k)).isoformat()),
                            day,
                            prev,
                            prefix,
                        )
                        for k in range(entry["count"])
                    ]
                else:
                    resolved[entry["name"]] = stager.substitute(entry["key"], day, prev, prefix)
            wanted: dict[str, Any] = {}
            for tin in task.inputs:
                keys = [expected_key(g, prefix, s) for s in tin.sources]
                wanted[tin.name] = keys if tin.collect else keys[0]
            # the first day's restart is an "opt" input naming no task: the stager skips what is missing
            extra = {k: v for k, v in resolved.items() if k not in wanted}
            assert {k: v for k, v in resolved.items() if k in wanted} == wanted, task.id
            for key in extra.values():
                assert key.removeprefix(prefix + "/").rsplit("/", 1)[0] not in {t.id for t in g.tasks}
            assert [o["path"] for o in stage["outputs"]] == [o.path for o in component.outputs]
            assert stage["storage_mib"] == component.resources.storage_mib
            checked.append(task.id)
    assert sorted(checked) == sorted(t.id for t in g.tasks)


def test_only_one_data_root(tmp_path: Path) -> None:
    proc = r2o(
        "pipeline", "render", "aqcast", "--start", "2024-02-28", "--registry", REGISTRY,
        "--data-s3-bucket", BUCKET, "--efs-file-system-id", "fs-12345678", cwd=REPO_ROOT,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "exactly one of --efs-file-system-id, --data-host-path or --data-s3-bucket" in proc.stderr


@pytest.mark.parametrize("bad", ["nope", "=arn"])
def test_a_bad_component_job_role_is_a_usage_error(bad: str) -> None:
    proc = r2o(
        "pipeline", "render", "aqcast", "--start", "2024-02-28", "--registry", REGISTRY,
        "--data-s3-bucket", BUCKET, "--component-job-role", bad, cwd=REPO_ROOT,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "--component-job-role" in proc.stderr


def test_a_job_role_for_an_unknown_component_is_refused() -> None:
    proc = r2o(
        "pipeline", "render", "aqcast", "--start", "2024-02-28", "--registry", REGISTRY,
        "--data-s3-bucket", BUCKET, "--component-job-role", f"wfr={WRF_ROLE}", cwd=REPO_ROOT,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "no component named 'wfr'" in proc.stderr and "did you mean 'wrf'?" in proc.stderr
