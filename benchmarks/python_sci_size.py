"""Uncompressed size of the python-sci base image against the 250 MB goal.

    .venv/bin/python benchmarks/python_sci_size.py

Computes python-sci's content tag from this checkout, builds it (and debian) when the tag is missing,
then prints the image's uncompressed size as the engine reports it, split into the debian rootfs and
what python-sci adds, with the largest folders inside the image.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_MB = 250.0
MB = 1_000_000
MIB = 1024 * 1024

from r2o.images import build as builder  # noqa: E402
from r2o.images.engine import Engine  # noqa: E402
from r2o.images.plan import ImageGraph  # noqa: E402
from r2o.repo import Repository  # noqa: E402


def largest_folders(engine: Engine, tag: str, top: int = 8) -> list[str]:
    """`du` inside the image (no network, read-only root): folders by their own size, largest first."""
    script = "du -kx -d 3 /usr /var /etc /opt 2>/dev/null || true"
    raw = engine.client.containers.run(
        tag, ["sh", "-c", script], remove=True, network_mode="none", read_only=True, user="0:0", entrypoint=[]
    )
    sizes = {
        p: int(k) for k, p in (line.split("\t", 1) for line in raw.decode().splitlines() if "\t" in line)
    }
    # A folder's own share: its total minus its listed subfolders (whose totals are shown separately).
    own = dict(sizes)
    for path, kib in sizes.items():
        parent = path.rsplit("/", 1)[0]
        if parent in own and parent != path:
            own[parent] -= kib
    return [f"{k / 1024:8.1f} MiB  {p}" for p, k in sorted(own.items(), key=lambda item: -item[1])[:top]]


def main() -> int:
    graph = ImageGraph.from_repo(Repository(REPO))
    node = graph.node("python-sci")
    engine = Engine.connect()
    plan = builder.plan_for(graph, engine, ["python-sci"], push=False, registry=None)
    if plan.work:
        print(f"building {', '.join(s.node.tag for s in plan.work)} first ...", flush=True)
        builder.execute(plan, graph, engine, report=lambda event: None, cache_dir=REPO / ".r2o" / "cache")
    image = engine.image(node.tag)
    parent = engine.image(graph.node("debian").tag)
    assert image is not None and parent is not None
    size = int(image.attrs["Size"])
    base = int(parent.attrs["Size"])
    print(f"image            {node.tag}")
    print(f"uncompressed     {size / MB:.1f} MB ({size / MIB:.1f} MiB)")
    print(f"  debian rootfs  {base / MB:.1f} MB ({graph.node('debian').tag})")
    print(
        f"  python-sci     {(size - base) / MB:.1f} MB (python3, numpy, netCDF4, PyYAML and their libraries)"
    )
    print("largest folders inside the image:")
    for line in largest_folders(engine, node.tag):
        print(f"  {line}")
    verdict = "meets" if size / MB <= GOAL_MB else "MISSES"
    print(f"goal <= {GOAL_MB:.0f} MB: {verdict} ({size / MB:.1f} MB, {GOAL_MB - size / MB:+.1f} MB to spare)")
    return 0 if verdict == "meets" else 1


if __name__ == "__main__":
    sys.exit(main())
