"""Base image build time from nothing: the debian rootfs (mmdebstrap), the debian image, python-sci.

    .venv/bin/python benchmarks/base_image_build.py [--keep]

Builds in a temporary copy of base-images/ whose debian Dockerfile first adds a one-line salt file, so
the tags are new, mmdebstrap runs (its cache is keyed by tag) and no layer of the engine's build cache
can be reused: every step really runs. Prints seconds per image (the rootfs separately), the rootfs
sha256 (reproducible: SOURCE_DATE_EPOCH is fixed, so it should equal the one this checkout builds)
and the image sizes. The salted images are removed afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MB = 1_000_000

from r2o.images import build as builder  # noqa: E402
from r2o.images.build import BuildEvent  # noqa: E402
from r2o.images.engine import Engine  # noqa: E402
from r2o.images.plan import ImageGraph  # noqa: E402
from r2o.repo import Repository  # noqa: E402


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def salted_copy(root: Path) -> str:
    """base-images/ and an empty components/ at ``root``; returns the salt."""
    (root / "components").mkdir(parents=True)
    shutil.copytree(REPO / "base-images", root / "base-images", ignore=shutil.ignore_patterns("rootfs.tar"))
    salt = uuid.uuid4().hex
    debian = root / "base-images" / "debian"
    (debian / "bench-salt").write_text(salt + "\n")
    dockerfile = debian / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace(
            "FROM scratch\n",
            "FROM scratch\n# benchmark only: a new first layer, so no cached layer applies\n"
            "COPY bench-salt /etc/r2o-bench-salt\n",
            1,
        )
    )
    return salt


class Clock:
    """Per-image seconds from the executor's progress events; the rootfs from its own log line."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.rootfs_started: float | None = None
        self.rootfs_seconds = 0.0

    def __call__(self, event: BuildEvent) -> None:
        name = event.step.node.name
        if event.kind == "line" and event.text.startswith("building the"):
            self.rootfs_started = time.monotonic()
            print(f"  {name}: {event.text}", flush=True)
        elif event.kind == "line" and self.rootfs_started is not None and not self.rootfs_seconds:
            self.rootfs_seconds = time.monotonic() - self.rootfs_started
        elif event.kind == "start":
            print(f"  {name}: building {event.step.node.tag}", flush=True)
        elif event.kind == "done":
            self.seconds[name] = event.seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the salted images")
    args = parser.parse_args()
    engine = Engine.connect()
    reference = ImageGraph.from_repo(Repository(REPO)).node("debian")
    with tempfile.TemporaryDirectory(prefix="r2o-base-bench-") as tmp:
        root = Path(tmp) / "repo"
        salt = salted_copy(root)
        graph = ImageGraph.from_repo(Repository(root))
        plan = builder.plan_for(graph, engine, ["python-sci"], push=False, registry=None)
        print(f"salt {salt[:12]}: {len(plan.work)} images to build from nothing", flush=True)
        clock = Clock()
        cache = root / ".r2o" / "cache"
        start = time.monotonic()
        try:
            builder.execute(plan, graph, engine, report=clock, cache_dir=cache)
            total = time.monotonic() - start
            rootfs = cache / f"rootfs-{graph.node('debian').tag_only}.tar"
            digest = sha256(rootfs)
            print(
                f"rootfs (mmdebstrap)   {clock.rootfs_seconds:7.1f} s   {rootfs.stat().st_size / MB:.1f} MB  "
                f"sha256 {digest}"
            )
            for name in ("debian", "python-sci"):
                node = graph.node(name)
                image = engine.image(node.tag)
                size = int(image.attrs["Size"]) / MB if image is not None else float("nan")
                extra = " (includes the rootfs)" if name == "debian" else ""
                print(f"{name:21} {clock.seconds[name]:7.1f} s   {size:.1f} MB  {node.tag}{extra}")
            print(f"total from nothing    {total:7.1f} s")
            cached = REPO / ".r2o" / "cache" / f"rootfs-{reference.tag_only}.tar"
            if cached.is_file():
                same = "identical" if sha256(cached) == digest else "DIFFERENT"
                print(f"rootfs vs this checkout's {cached.relative_to(REPO)}: {same}")
        finally:
            if not args.keep:
                for name in ("python-sci", "debian"):
                    engine.remove(graph.node(name).tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
