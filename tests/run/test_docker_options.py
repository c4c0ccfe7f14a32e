"""The container options of a Docker run: every limit AWS Batch applies, and the hardening on top."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from docker.types import LogConfig, Ulimit
from docker.types import Mount as DockerMount

from r2o import manifest as manifests
from r2o.errors import RunError
from r2o.images.engine import Engine
from r2o.manifest import Component
from r2o.run.docker import DockerExecutor, container_options
from r2o.run.plan import RunPlan, make_plan

IMAGE = "probe:1.0.0-0123456789ab"


@pytest.fixture
def plan(component: Component, grid: Path, tmp_path: Path) -> RunPlan:
    return make_plan(
        component,
        parameters={"date": "2024-07-15", "size": "3"},
        inputs={"grid": grid},
        output_dir=tmp_path / "out",
        image=IMAGE,
    )


def test_every_limit_and_hardening_flag(plan: RunPlan, grid: Path, tmp_path: Path) -> None:
    staging = tmp_path / ".out.partial-x"
    opts = container_options(plan, staging)
    assert opts["image"] == IMAGE
    assert opts["command"] == list(plan.argv)  # the image's ENTRYPOINT is kept, as on Batch
    assert "entrypoint" not in opts
    # never root, whatever the image's USER says; r2o's own user when r2o is not root
    assert opts["user"] == ("1000:1000" if os.geteuid() == 0 else f"{os.geteuid()}:{os.geteuid()}")
    assert opts["network_mode"] == "none"
    assert opts["read_only"] is True
    assert opts["tmpfs"] == {"/tmp": "rw,nosuid,nodev,size=256m"}
    assert opts["nano_cpus"] == 2_000_000_000
    assert opts["mem_limit"] == "768m"
    assert opts["memswap_limit"] == opts["mem_limit"]  # memory + swap == memory: no extra swap
    assert opts["cap_drop"] == ["ALL"]
    assert "cap_add" not in opts
    assert opts["security_opt"] == ["no-new-privileges"]
    assert opts["pids_limit"] == 512
    assert opts["ulimits"] == [Ulimit(name="fsize", soft=20480 << 20, hard=20480 << 20)]  # storage_mib
    assert opts["log_config"] == LogConfig(type="none")  # a flood of output never fills the engine's disk
    assert opts["labels"] == {"org.r2o.component": "probe"}
    assert "privileged" not in opts
    assert opts["environment"] == {
        "PROBE_LIB": "/app/libs/shared",
        "PROBE_OUT": "/data/output/sub",
        "PROBE_PLAIN": "/data/outputs-are-elsewhere",
    }
    assert opts["mounts"] == [
        DockerMount(target="/data/input/grid.txt", source=str(grid.resolve()), type="bind", read_only=True),
        DockerMount(target="/data/output", source=str(staging), type="bind", read_only=False),
    ]
    # Outputs go to the staging directory, never straight to the destination.
    assert str(plan.output_dir) not in {m["Source"] for m in opts["mounts"]}  # type: ignore[attr-defined]


def test_a_declared_network_is_the_only_way_out(component: Component, grid: Path, tmp_path: Path) -> None:
    manifest = component.manifest_path
    manifest.write_text(manifest.read_text().replace("network: false", "network: true"))
    networked = manifests.load(manifest.parent)
    plan = make_plan(
        networked,
        parameters={"date": "2024-07-15"},
        inputs={"grid": grid},
        output_dir=tmp_path / "out",
        image=IMAGE,
    )
    assert container_options(plan, tmp_path)["network_mode"] == "bridge"


def test_fractional_vcpus(component: Component, grid: Path, tmp_path: Path) -> None:
    manifest = component.manifest_path
    manifest.write_text(
        manifest.read_text()
        .replace("vcpus: 2, memory_mib: 768", "vcpus: 0.25, memory_mib: 512")
        .replace("platforms: [EC2]", "platforms: [FARGATE]")
    )
    plan = make_plan(
        manifests.load(manifest.parent),
        parameters={"date": "2024-07-15"},
        inputs={"grid": grid},
        output_dir=tmp_path / "out",
        image=IMAGE,
    )
    opts = container_options(plan, tmp_path)
    assert opts["nano_cpus"] == 250_000_000
    assert opts["mem_limit"] == opts["memswap_limit"] == "512m"


def test_no_image_is_a_run_error_before_docker_is_touched(
    component: Component, grid: Path, tmp_path: Path
) -> None:
    plan = make_plan(
        component, parameters={"date": "2024-07-15"}, inputs={"grid": grid}, output_dir=tmp_path / "out"
    )
    executor = DockerExecutor(Engine(client=None))  # type: ignore[arg-type]
    with pytest.raises(RunError, match="no image to run probe in"):
        executor.start(plan, tmp_path, lambda stream, chunk: None)
