"""`r2o validate`, `r2o changed` and `r2o render codebuild` on a synthetic monorepo of 1,000 components.

    .venv/bin/python benchmarks/monorepo_1000.py [--components N] [--repeat R] [--keep]

The monorepo is generated in a temporary directory (3 base images, 20 libs, N components, each with
a manifest, a Dockerfile, code and one golden case), committed with git, then a second commit changes
one lib and one component. Each command runs through the real `r2o` entry point in a fresh process,
so the figures include Python's start-up; the best of R runs is printed. Target: <= 2 s each.
The first `r2o validate` checks every manifest and fills the manifest cache (.r2o/cache): its time
is printed too ("cold"); the measured commands then run with the cache warm, as they do in a
checkout where r2o has run before.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 2.0
LIBS = 20

IMAGE = (
    "apiVersion: r2o/v1\nkind: BaseImage\nname: {name}\nversion: 1.0.0\ndescription: Synthetic.\n{extra}\n"
)
COMPONENT = """\
apiVersion: r2o/v1
name: {name}
version: 1.0.0
description: Synthetic component {index}.
owners: [bench]
base: {base}
build: {{dockerfile: Dockerfile, include: [{include}]}}
command: ["python3", "/app/algorithm.py", "--size", "Ref::size", "--out", "/data/output/result.txt"]
parameters:
  size: {{type: integer, default: 4, minimum: 1, maximum: 100, description: problem size}}
resources: {{vcpus: 1, memory_mib: 512, gpus: 0, timeout_s: 600, retries: 2, platforms: [EC2]}}
inputs:
  - {{name: grid, path: /data/input/grid.nc, kind: file, format: netcdf, required: false}}
outputs:
  - {{name: result, path: /data/output/result.txt, format: text, description: the result}}
network: false
"""
DOCKERFILE = (
    "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY --chown=0:0 algorithm.py /app/\nUSER 1000\nENTRYPOINT []\n"
)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def generate(root: Path, components: int) -> None:
    write(
        root / "base-images/debian/image.yaml", IMAGE.format(name="debian", extra="rootfs: {suite: bookworm}")
    )
    write(root / "base-images/debian/Dockerfile", "FROM scratch\nADD rootfs.tar /\n")
    for name in ("python-sci", "fortran"):
        write(root / f"base-images/{name}/image.yaml", IMAGE.format(name=name, extra="parent: debian"))
        write(root / f"base-images/{name}/Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    for i in range(LIBS):
        write(root / f"libs/lib{i:02d}/lib{i:02d}/__init__.py", f"VALUE = {i}\n")
    for i in range(components):
        name = f"comp-{i:04d}"
        folder = root / "components" / name
        include = f"libs/lib{i % LIBS:02d}" if i % 3 == 0 else ""
        base = "fortran" if i % 10 == 0 else "python-sci"
        write(folder / "component.yaml", COMPONENT.format(name=name, index=i, base=base, include=include))
        write(folder / "Dockerfile", DOCKERFILE)
        write(folder / "algorithm.py", f"import sys\nprint({i} * int(sys.argv[2]))\n")
        case = folder / "tests/golden/default"
        write(case / "case.yaml", "description: Default size.\nparameters: {size: 4}\n")
        write(case / "expected/result.txt", f"{i * 4}\n")
    write(root / "README.md", "# synthetic monorepo\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "bench@example.invalid")
    git(root, "config", "user.name", "r2o benchmark")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "synthetic monorepo")
    write(root / "libs/lib01/lib01/__init__.py", "VALUE = 101\n")
    write(root / f"components/comp-{components - 2:04d}/algorithm.py", "print('changed')\n")
    git(root, "commit", "-q", "-am", "change one lib and one component")


def timed(root: Path, args: list[str], repeat: int) -> tuple[float, subprocess.CompletedProcess[str]]:
    """The best wall time of ``repeat`` runs of ``r2o ARGS`` (a fresh process each)."""
    best = float("inf")
    proc: subprocess.CompletedProcess[str] | None = None
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", "from r2o.cli.main import main; main()", *args],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        best = min(best, time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"r2o {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    assert proc is not None
    return best, proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="Keep the generated monorepo and print its path.")
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="r2o-monorepo-"))
    try:
        start = time.perf_counter()
        generate(tmp, options.components)
        print(
            f"generated {options.components} components, 3 base images, {LIBS} libs "
            f"in {time.perf_counter() - start:.1f} s ({tmp})"
        )
        startup, _ = timed(tmp, ["--version"], options.repeat)
        print(f"{'r2o --version (Python start-up)':34} {startup:6.2f} s")
        # The first command checks every manifest and fills .r2o/cache; the others reuse it.
        cold, _ = timed(tmp, ["validate"], 1)
        print(f"{'r2o validate, cold manifest cache':34} {cold:6.2f} s  (checks 1,003 manifests)")
        failed = []
        commands = {
            "r2o validate": ["validate"],
            "r2o changed --base HEAD~1": ["changed", "--base", "HEAD~1", "--json"],
            "r2o render codebuild": ["render", "codebuild"],
        }
        for label, args in commands.items():
            seconds, proc = timed(tmp, args, options.repeat)
            verdict = "ok" if seconds <= BUDGET_S else f"OVER the {BUDGET_S:.0f} s budget"
            detail = ""
            if args[0] == "changed":
                import json

                data = json.loads(proc.stdout)
                detail = f"  ({len(data['components'])} components to rebuild of {options.components})"
            elif args[0] == "render":
                detail = f"  ({proc.stdout.strip()})"
            print(f"{label:34} {seconds:6.2f} s  {verdict}{detail}")
            if seconds > BUDGET_S:
                failed.append(label)
        return 1 if failed else 0
    finally:
        if options.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
