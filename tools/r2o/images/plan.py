"""The image graph (base images and components) and build plans, as data."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from r2o.base_image import BaseImage
from r2o.case_refs import golden_sources
from r2o.errors import ManifestError, NotFoundError, Problem, UsageError, did_you_mean
from r2o.images import tags
from r2o.manifest import Component
from r2o.repo import Repository

BASE = "base-image"
COMPONENT = "component"


@dataclass(frozen=True)
class ImageNode:
    """One buildable image: where its source is, what it builds FROM, its content tag."""

    name: str
    kind: str  # BASE or COMPONENT
    version: str
    folder: Path
    dockerfile: str
    parent: str | None  # name of the base image it builds FROM (None for a rootfs image)
    include: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    build_images: Mapping[str, str] = field(default_factory=dict)  # build ARG -> base image name
    tag: str = ""  # <name>:<version>-<12 hex>

    def ref(self, registry: str | None = None) -> str:
        return f"{registry.rstrip('/')}/{self.tag}" if registry else self.tag

    @property
    def repository(self) -> str:
        return self.tag.split(":", 1)[0]

    @property
    def tag_only(self) -> str:
        return self.tag.split(":", 1)[1]


def _base_args(img: BaseImage) -> dict[str, str]:
    args = dict(img.build_args)
    if img.packages:
        args["PACKAGES"] = " ".join(img.packages)
    return args


class ImageGraph:
    """Every image of a repository with its content tag, in dependency order."""

    def __init__(
        self,
        root: Path,
        images: Mapping[str, BaseImage],
        components: Mapping[str, Component],
        problems: Sequence[Problem] = (),
    ) -> None:
        self.root = root
        self._problems = list(problems)
        self._images = dict(images)
        self._components = dict(components)
        # An image whose chain has a broken or missing link cannot be built; its problems are
        # reported when it is asked for, so one broken folder does not block the others.
        for _ in range(len(self._images) + 1):
            broken = [n for n, i in self._images.items() if i.parent not in (None, *self._images)]
            for n in broken:
                del self._images[n]
        self._components = {
            n: c
            for n, c in self._components.items()
            if c.base in self._images and all(i in self._images for i in c.build.images.values())
        }
        clash = set(images) & set(components)
        if clash:
            raise UsageError(
                f"names used by both a base image and a component: {', '.join(sorted(clash))}",
                hint="rename one of each pair: image names must be unique",
            )

    @classmethod
    def from_repo(cls, repo: Repository) -> ImageGraph:
        loaded = repo.loaded
        return cls(repo.root, loaded.images, loaded.components, loaded.problems)

    @cached_property
    def nodes(self) -> dict[str, ImageNode]:
        index = tags.SourceIndex(self.root)
        out: dict[str, ImageNode] = {}

        def rel(folder: Path) -> str:
            return folder.resolve().relative_to(self.root).as_posix()

        def visit(name: str) -> ImageNode:
            if name in out:
                return out[name]
            if name in self._images:
                img = self._images[name]
                parent_tag = visit(img.parent).tag if img.parent else None
                args = _base_args(img)
                node = ImageNode(name, BASE, img.version, img.folder, img.dockerfile, img.parent, (), args)
                folder = rel(img.folder)
                sources: tuple[str, ...] = ()
            else:
                comp = self._components[name]
                parent_tag = visit(comp.base).tag
                args = dict(comp.build.args)
                # Extra stage images are part of the content: their tags go in with the build args.
                args.update({arg: visit(image).tag for arg, image in comp.build.images.items()})
                node = ImageNode(
                    name,
                    COMPONENT,
                    comp.version,
                    comp.folder,
                    comp.build.dockerfile,
                    comp.base,
                    comp.build.include,
                    args,
                    dict(comp.build.images),
                )
                folder = rel(comp.folder)
                # Golden inputs taken from other components' expected outputs are part of what this
                # tag vouches for (its cases were tested against them), though not copied into the image.
                sources = golden_sources(comp.folder)
            digest = tags.content_hash(
                index=index,
                name=name,
                kind=node.kind,
                folder=folder,
                includes=(*node.include, *sources),
                parent_tag=parent_tag,
                build_args=args,
            )
            node = dataclasses.replace(node, tag=tags.tag(name, node.version, digest))
            out[name] = node
            return node

        for name in sorted(self._images):
            visit(name)
        for name in sorted(self._components):
            visit(name)
        return out

    def node(self, name: str) -> ImageNode:
        nodes = self.nodes
        if name not in nodes:
            own = [
                p
                for p in self._problems
                if Path(p.file).parts[:2] in (("components", name), ("base-images", name))
            ]
            if own or (self._problems and name in self._named_in_problems()):
                raise ManifestError(own or self._problems, hint=f"fix these before building {name}")
            raise NotFoundError(
                f"no image or component named '{name}'",
                hint=did_you_mean(name, nodes) or f"known: {', '.join(sorted(nodes))}",
            )
        return nodes[name]

    def _named_in_problems(self) -> set[str]:
        return {Path(p.file).parts[1] for p in self._problems if len(Path(p.file).parts) > 1}

    def ref(self, name: str, registry: str | None = None) -> str:
        return self.node(name).ref(registry)

    def chain(self, name: str) -> list[ImageNode]:
        """``name`` and its ancestors, root first."""
        out = []
        cur: str | None = name
        while cur is not None:
            node = self.node(cur)
            out.append(node)
            cur = node.parent
        return out[::-1]

    def ancestors(self, name: str) -> set[str]:
        """Every base image ``name`` needs: its parent chain and the chains of its extra stage images."""
        out: set[str] = set()
        todo = [name]
        while todo:
            node = self.node(todo.pop())
            for dep in (node.parent, *node.build_images.values()):
                if dep is not None and dep not in out:
                    out.add(dep)
                    todo.append(dep)
        return out

    def order(self, names: Iterable[str]) -> list[ImageNode]:
        """``names`` with every ancestor, each once, parents before children (base images first)."""
        wanted: dict[str, ImageNode] = {}
        for name in names:
            for dep in (*self.ancestors(name), name):
                wanted.setdefault(dep, self.node(dep))
        depth = {n: len(self.ancestors(n)) for n in wanted}
        return sorted(wanted.values(), key=lambda n: (n.kind != BASE, depth[n.name], n.name))

    def dependents(self, name: str) -> list[str]:
        """Every image that builds on ``name``, directly or through other base images."""
        return sorted(n for n in self.nodes if n != name and name in self.ancestors(n))
