"""`r2o ci plan` on the synthetic monorepo of `monorepo_1000.py`: what a commit starts, and how fast.

    .venv/bin/python benchmarks/ci_plan.py [--components N] [--repeat R] [--max-builds B] [--keep]

The monorepo (3 base images, N components) is generated and committed as `monorepo_1000.py` does.
A stand-in registry on a loopback port answers the planner's HEAD requests from a set of tags, as
a registry holding the images of earlier commits would. Four commits are planned through the real
`r2o` entry point (a fresh process each):

- nothing changed since every image was pushed: planned builds must be 0;
- one component changed: 1 planned build (plus the planner) building exactly 1 image;
- the root base image changed (every image affected): <= 20 builds, each image in exactly one,
  every base image built before the images built FROM it; the estimated billed build-minutes
  against today's one-build-per-image graph are printed;
- the wall time of `r2o ci plan` with a warm manifest cache (goal <= 1.5 s), best of R.

The order and packing checks here use the generator's own knowledge of which image is built FROM
which, not the planner's. The script exits non-zero when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from monorepo_1000 import LIBS, generate, git

PLAN_BUDGET_S = 1.5
MAX_BUILDS = 20


def needs(name: str) -> set[str]:
    """What ``name`` is built FROM, directly or not (the generator's layout, see generate())."""
    if name == "debian":
        return set()
    if name in ("python-sci", "fortran"):
        return {"debian"}
    index = int(name.split("-")[1])
    return {"debian", "fortran" if index % 10 == 0 else "python-sci"}


@contextmanager
def registry(held: set[tuple[str, str]]) -> Iterator[str]:
    """A registry that holds ``held`` (repository, tag): HEAD /v2/<repo>/manifests/<tag> -> 200 or 404."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # connections kept alive, as a real registry keeps them

        def do_HEAD(self) -> None:
            parts = self.path.split("/")
            found = len(parts) == 5 and (parts[2], parts[4]) in held
            self.send_response(200 if found else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def r2o(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", "from r2o.cli.main import main; main()", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"r2o {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return seconds, proc


def plan(root: Path, address: str, max_builds: int) -> tuple[float, dict[str, Any]]:
    seconds, proc = r2o(
        root,
        "ci",
        "plan",
        "--registry",
        address,
        "--base",
        "HEAD~1",
        "--max-builds",
        str(max_builds),
        "--json",
    )
    data: dict[str, Any] = json.loads(proc.stdout)
    return seconds, data


def tags_of(data: dict[str, Any]) -> set[tuple[str, str]]:
    return {tuple(image["tag"].split(":", 1)) for image in data["images"]}  # type: ignore[misc]


def billing(data: dict[str, Any]) -> str:
    p, s = data["estimate"]["planned"], data["estimate"]["one_build_per_image"]
    return (
        f"estimate: {p['billed_minutes']:,} billed build-minutes ({p['builds']} builds) vs "
        f"{s['billed_minutes']:,} with one build per image ({s['builds']} builds)"
    )


def order_problems(data: dict[str, Any]) -> list[str]:
    """Each image in exactly one build, every base before its dependents (same build or awaited)."""
    builds = {b["identifier"]: b for b in data["builds"]}
    where: dict[str, tuple[str, int]] = {}
    problems = []
    for b in data["builds"]:
        for i, name in enumerate(b["images"]):
            if name in where:
                problems.append(f"{name} is in {where[name][0]} and {b['identifier']}")
            where[name] = (b["identifier"], i)

    def awaited(ident: str) -> set[str]:
        out: set[str] = set()
        todo = list(builds[ident]["depend-on"])
        while todo:
            d = todo.pop()
            if d not in out:
                out.add(d)
                todo.extend(builds[d]["depend-on"])
        return out

    for name, (ident, index) in where.items():
        for base in needs(name):
            if base not in where:
                continue  # already in the registry
            b_ident, b_index = where[base]
            if not ((b_ident == ident and b_index < index) or b_ident in awaited(ident)):
                problems.append(f"{base} is not built before {name}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-builds", type=int, default=MAX_BUILDS)
    parser.add_argument("--keep", action="store_true", help="Keep the generated monorepo and print its path.")
    options = parser.parse_args()
    images = options.components + 3
    tmp = Path(tempfile.mkdtemp(prefix="r2o-ci-plan-"))
    missed: list[str] = []
    try:
        generate(tmp, options.components)
        print(f"generated {options.components} components, 3 base images, {LIBS} libs ({tmp})")
        cold, _ = r2o(tmp, "validate")  # fills the manifest cache (.r2o/cache)
        print(f"{'r2o validate (fills the cache)':44} {cold:6.2f} s")

        with registry(set()) as empty:
            _, everything = plan(tmp, empty, options.max_builds)
        held = tags_of(everything)
        assert len(held) == images, (len(held), images)

        with registry(held) as address:
            _, data = plan(tmp, address, options.max_builds)
            n = len(data["builds"])
            print(f"{'nothing changed':44} {n} planned builds, {data['skipped']} images skipped")
            print(f"{'':44} {billing(data)}")
            if n != 0:
                missed.append("nothing changed: planned builds must be 0")

            best = float("inf")
            for _ in range(options.repeat):
                seconds, _ = plan(tmp, address, options.max_builds)
                best = min(best, seconds)
            verdict = "ok" if best <= PLAN_BUDGET_S else f"OVER the {PLAN_BUDGET_S} s goal"
            print(
                f"{'r2o ci plan, warm cache, nothing changed':44} {best:6.2f} s  {verdict} "
                f"(best of {options.repeat}; {images:,} tags asked)"
            )
            if best > PLAN_BUDGET_S:
                missed.append("r2o ci plan wall time")

            name = f"comp-{options.components // 2:04d}"
            (tmp / "components" / name / "algorithm.py").write_text("print('one change')\n")
            git(tmp, "commit", "-q", "-am", f"change {name}")
            seconds, data = plan(tmp, address, options.max_builds)
            built = [i for b in data["builds"] for i in b["images"]]
            print(
                f"{'one component changed':44} {len(data['builds'])} planned build (+ the planner), "
                f"images {built}, {data['skipped']} skipped, {seconds:.2f} s"
            )
            print(f"{'':44} {billing(data)}")
            if len(data["builds"]) != 1 or built != [name]:
                missed.append("one component changed: 1 build of exactly that image")

            dockerfile = tmp / "base-images" / "debian" / "Dockerfile"
            dockerfile.write_text(dockerfile.read_text() + "# a root base image change\n")
            git(tmp, "commit", "-q", "-am", "change the root base image")
            seconds, data = plan(tmp, address, options.max_builds)
            placed = [i for b in data["builds"] for i in b["images"]]
            problems = order_problems(data)
            once = len(placed) == len(set(placed)) == images
            sizes = sorted((len(b["images"]) for b in data["builds"]), reverse=True)
            print(
                f"{'root base image changed':44} {len(data['builds'])} planned builds "
                f"(at most {options.max_builds}), {len(placed):,} images placed, each in exactly one: "
                f"{'yes' if once else 'NO'}, order respected: {'yes' if not problems else 'NO'}, "
                f"{seconds:.2f} s"
            )
            print(f"{'':44} images per build: {sizes}")
            for problem in problems[:5]:
                print(f"{'':44} ORDER: {problem}")
            if len(data["builds"]) > options.max_builds or not once or problems:
                missed.append("root base change: builds, each image once, order")
            estimate = data["estimate"]
            p, s = estimate["planned"], estimate["one_build_per_image"]
            print(
                f"{'  estimate, this plan':44} {p['builds']:>5} builds (the planner + "
                f"{p['builds'] - 1}), {p['billed_minutes']:>6,} billed build-minutes, "
                f"about {p['wall_minutes']:.0f} min wall"
            )
            print(
                f"{'  estimate, one build per image (today)':44} {s['builds']:>5} builds, "
                f"{s['billed_minutes']:>6,} billed build-minutes, about {s['wall_minutes']:.0f} min wall"
                + (f"\n{'':44} {s['note']}" if s.get("note") else "")
            )
        if missed:
            print("missed: " + "; ".join(missed))
        return 1 if missed else 0
    finally:
        if options.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
