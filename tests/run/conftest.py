"""A component with every kind of parameter, inputs, file and stdout outputs, and an included lib."""

from __future__ import annotations

from pathlib import Path

import pytest

from r2o import manifest
from r2o.manifest import Component

MANIFEST = """\
apiVersion: r2o/v1
name: probe
version: 1.0.0
description: Reads a grid and writes a result (a run-tier test component).
owners: [tests]
base: python-sci
build: {dockerfile: Dockerfile, include: [libs/shared]}
command: ["python3", "/app/probe.py", "--date", "Ref::date", "--size", "Ref::size", "--mode", "Ref::mode",
          "--scale", "Ref::scale", "--verbose", "Ref::verbose", "--grid", "/data/input/grid.txt",
          "--stations", "/data/input/stations", "--out", "/data/output/result.txt", "--lib=/app/libs/shared"]
environment:
  {PROBE_LIB: /app/libs/shared, PROBE_OUT: /data/output/sub, PROBE_PLAIN: "/data/outputs-are-elsewhere"}
parameters:
  date: {type: date, description: "the day; required, no default"}
  size: {type: integer, default: 2, minimum: 1, maximum: 10}
  mode: {type: enum, values: [fast, exact], default: fast}
  scale: {type: number, default: 0.5, minimum: 0, maximum: 1}
  verbose: {type: boolean, default: false}
resources: {vcpus: 2, memory_mib: 768, timeout_s: 120, retries: 1, platforms: [EC2]}
inputs:
  - {name: grid, path: /data/input/grid.txt, kind: file, format: text, required: true}
  - {name: stations, path: /data/input/stations, kind: directory, format: csv, required: false}
outputs:
  - {name: log, path: stdout, format: text}
  - {name: result, path: /data/output/result.txt, format: text}
  - {name: extra, path: /data/output/sub/extra.csv, format: csv}
network: false
"""

PROBE = """\
import argparse, os, pathlib, sys
p = argparse.ArgumentParser()
for flag in ("--date", "--size", "--mode", "--scale", "--verbose", "--grid", "--stations", "--out", "--lib"):
    p.add_argument(flag)
a = p.parse_args()
sys.path.insert(0, a.lib)
import shared
grid = pathlib.Path(a.grid).read_text()
stations = sorted(os.listdir(a.stations)) if os.path.isdir(a.stations) else []
line = f"{a.date} {a.size} {a.mode} {a.scale} {a.verbose} {grid.strip()} {stations}\\n"
pathlib.Path(a.out).write_text(line)
sub = pathlib.Path(os.environ["PROBE_OUT"])
sub.mkdir()
(sub / "extra.csv").write_text("k,v\\nlib," + shared.NAME + "\\n")
print("probe ran in", os.getcwd() == str(pathlib.Path(a.out).parent), "lib", os.environ["PROBE_LIB"] == a.lib)
print("plain", os.environ["PROBE_PLAIN"])
"""


@pytest.fixture
def repo_root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    folder = root / "components" / "probe"
    folder.mkdir(parents=True)
    (folder / "component.yaml").write_text(MANIFEST)
    (folder / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nENTRYPOINT []\n")
    (folder / "probe.py").write_text(PROBE)
    (root / "libs" / "shared").mkdir(parents=True)
    (root / "libs" / "shared" / "shared.py").write_text("NAME = 'shared-lib'\n")
    return root


@pytest.fixture
def component(repo_root: Path) -> Component:
    return manifest.load(repo_root / "components" / "probe")


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    path = tmp_path / "inputs" / "grid.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("GRID-42\n")
    return path
