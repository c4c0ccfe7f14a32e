"""The monorepo: finding its root, and loading every component and base image in it."""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from r2o import base_image, fs, manifest, strict_yaml
from r2o.base_image import BaseImage
from r2o.errors import InputError, ManifestError, NotFoundError, Problem, UsageError, did_you_mean
from r2o.manifest import Component

COMPONENTS = "components"
BASE_IMAGES = "base-images"
LIBS = "libs"
PIPELINES = "pipelines"


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding ``components/`` (like git finds .git)."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / COMPONENTS).is_dir():
            return candidate
    raise UsageError(
        f"no r2o repository at or above {here} (looked for a '{COMPONENTS}/' folder)",
        hint="run r2o inside the repository, or pass --repo DIR",
    )


def _subfolders(parent: Path) -> list[Path]:
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _linked_folder(root: Path, folder: Path) -> Problem:
    return Problem(
        folder.relative_to(root),
        "",
        f"is a symbolic link (to {os.readlink(folder)}); "
        "r2o never follows links to component or base image folders",
        hint="move the folder itself into the repository (a link's target would escape the build context)",
    )


CACHE_DIR = Path(".r2o") / "cache"


class ManifestCache:
    """Valid components already checked, keyed by manifest path and content hash (``.r2o/cache``).

    Checking a manifest (strict YAML, JSON Schema, semantic checks) costs a few milliseconds; a
    1,000-component repository would spend seconds on it in every command. A manifest whose bytes,
    path and checking code are unchanged gives the same Component, so it is checked once. Only
    valid manifests are kept: a broken one is checked (and reported) every time. The whole cache is
    dropped when r2o's version or the code and schemas that check manifests change. The cache is a
    pickle the r2o of this checkout writes into the checkout's own git-ignored .r2o/ folder.
    """

    FILE = "manifests.pickle"
    _CHECKERS = ("manifest.py", "schema.py", "strict_yaml.py", "errors.py", "names.py", "sensitive.py")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.key = self._code_key()
        self.entries: dict[tuple[str, str], Component] = {}
        self.used: set[tuple[str, str]] = set()  # what is saved: older versions of a file drop out
        self.dirty = False
        try:
            with path.open("rb") as fh:
                key, entries = pickle.load(fh)
            if key == self.key and isinstance(entries, dict):
                self.entries = entries
        except Exception:  # a missing, old or damaged cache is simply rebuilt
            self.entries = {}

    @staticmethod
    def _code_key() -> str:
        from r2o import __version__

        package = Path(manifest.__file__).parent
        h = hashlib.sha256(__version__.encode())
        for name in ManifestCache._CHECKERS:
            h.update((package / name).read_bytes())
        for schema_file in sorted((package / "schemas").glob("*.json")):
            h.update(schema_file.read_bytes())
        return h.hexdigest()

    def component(self, path: Path) -> Component:
        """The component of manifest ``path``: cached, or loaded and checked (raises ManifestError)."""
        try:
            raw = path.read_bytes()
        except OSError:
            return manifest.load(path.parent)  # raises the located ManifestError users expect
        key = (str(path), hashlib.sha256(raw).hexdigest())
        hit = self.entries.get(key)
        if hit is not None:
            self.used.add(key)
            return hit
        comp = manifest.load(path.parent)
        try:
            unchanged = path.read_bytes() == raw  # a file edited while it was checked is not kept
        except OSError:
            unchanged = False
        if unchanged:
            self.entries[key] = comp
            self.used.add(key)
            self.dirty = True
        return comp

    def save(self, *, prune: bool = True) -> None:
        """Write the cache when it changed. ``prune`` (after a whole repository was loaded) keeps
        only the manifests used, so edited and deleted ones drop out; loading one component keeps
        everything."""
        if not self.dirty and (not prune or len(self.used) == len(self.entries)):
            return
        kept = {k: v for k, v in self.entries.items() if k in self.used or not prune}
        try:
            fs.ignore_in_git(self.path.parent)
            fs.atomic_write(self.path, pickle.dumps((self.key, kept), protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            pass  # a read-only checkout works, only slower


@dataclass(frozen=True)
class Loaded:
    """Everything that loaded, and every problem found on the way."""

    components: dict[str, Component]
    images: dict[str, BaseImage]
    problems: list[Problem]


class Repository:
    """A checkout of the monorepo. Loading is lazy and cached; problems are collected, not raised early."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        if not (self.root / COMPONENTS).is_dir():
            raise UsageError(
                f"{self.root} is not an r2o repository (no '{COMPONENTS}/' folder)",
                hint="pass --repo with the repository root",
            )

    @classmethod
    def discover(cls, repo: Path | None = None) -> Repository:
        return cls(repo) if repo is not None else cls(find_root())

    def rel(self, path: Path) -> Path:
        try:
            return path.resolve().relative_to(self.root)
        except ValueError:
            return path

    @cached_property
    def _manifests(self) -> ManifestCache:
        """One cache per command: a manifest is read and checked at most once, whoever asks."""
        return ManifestCache(self.root / CACHE_DIR / ManifestCache.FILE)

    @cached_property
    def loaded(self) -> Loaded:
        problems: list[Problem] = []
        components: dict[str, Component] = {}
        images: dict[str, BaseImage] = {}
        cache = self._manifests
        for folder in _subfolders(self.root / BASE_IMAGES):
            if folder.is_symlink():
                problems.append(_linked_folder(self.root, folder))
                continue
            if not (folder / base_image.IMAGE_FILE).is_file():
                problems.append(
                    Problem(
                        self.rel(folder),
                        "",
                        f"base image folder has no {base_image.IMAGE_FILE}",
                        hint=f"add {base_image.IMAGE_FILE} or remove the folder",
                    )
                )
                continue
            try:
                img = base_image.load(folder)
            except ManifestError as exc:
                problems.extend(self._relative(exc.problems))
            else:
                images[img.name] = img
        for folder in _subfolders(self.root / COMPONENTS):
            if folder.is_symlink():
                problems.append(_linked_folder(self.root, folder))
                continue
            path = folder / manifest.MANIFEST_FILE
            if not path.is_file():
                hint = "add component.yaml (see the README), or remove the folder"
                if (folder / "component.yml").is_file():
                    hint = "rename component.yml to component.yaml"
                problems.append(
                    Problem(
                        self.rel(folder), "", f"component folder has no {manifest.MANIFEST_FILE}", hint=hint
                    )
                )
                continue
            try:
                comp = cache.component(path)
            except ManifestError as exc:
                problems.extend(self._relative(exc.problems))
            else:
                components[comp.name] = comp
        cache.save()
        problems.extend(self._cross_checks(components, images))
        return Loaded(components, images, problems)

    def _relative(self, problems: list[Problem]) -> list[Problem]:
        return [Problem(self.rel(Path(p.file)), p.field, p.message, p.line, p.hint) for p in problems]

    def _cross_checks(self, components: dict[str, Component], images: dict[str, BaseImage]) -> list[Problem]:
        """What one file cannot tell: bases, parents, includes and Dockerfiles exist; no parent cycles."""
        out: list[Problem] = []

        def where(path: Path, at: tuple[str | int, ...]) -> tuple[Path, int | None]:
            try:
                doc = strict_yaml.load(path)
            except ManifestError:
                return self.rel(path), None
            return self.rel(path), doc.line(at)

        for img in images.values():
            if not (img.folder / img.dockerfile).is_file():
                f, line = where(img.manifest_path, ("dockerfile",))
                out.append(
                    Problem(
                        f, "dockerfile", f"{img.dockerfile} does not exist in {self.rel(img.folder)}", line
                    )
                )
            if img.parent is not None and img.parent not in images:
                f, line = where(img.manifest_path, ("parent",))
                out.append(
                    Problem(
                        f,
                        "parent",
                        f"no base image named '{img.parent}'",
                        line,
                        did_you_mean(img.parent, images) or f"base images: {', '.join(images)}",
                    )
                )
        for name in images:
            seen = [name]
            cur = images[name].parent
            while cur is not None and cur in images:
                if cur in seen:
                    f, line = where(images[name].manifest_path, ("parent",))
                    out.append(Problem(f, "parent", f"parent chain loops: {' -> '.join([*seen, cur])}", line))
                    break
                seen.append(cur)
                cur = images[cur].parent
        for comp in components.values():
            if comp.base not in images:
                f, line = where(comp.manifest_path, ("base",))
                out.append(
                    Problem(
                        f,
                        "base",
                        f"no base image named '{comp.base}'",
                        line,
                        did_you_mean(comp.base, images) or f"base images: {', '.join(images)}",
                    )
                )
            for arg, image in comp.build.images.items():
                if image not in images:
                    f, line = where(comp.manifest_path, ("build", "images", arg))
                    out.append(
                        Problem(
                            f,
                            f"build.images.{arg}",
                            f"no base image named '{image}'",
                            line,
                            did_you_mean(image, images) or f"base images: {', '.join(images)}",
                        )
                    )
            if not (comp.folder / comp.build.dockerfile).is_file():
                f, line = where(comp.manifest_path, ("build", "dockerfile"))
                out.append(
                    Problem(
                        f,
                        "build.dockerfile",
                        f"{comp.build.dockerfile} does not exist in {self.rel(comp.folder)}",
                        line,
                    )
                )
            for i, inc in enumerate(comp.build.include):
                target = (self.root / inc).resolve()
                if ".." in Path(inc).parts or Path(inc).is_absolute() or not target.is_relative_to(self.root):
                    f, line = where(comp.manifest_path, ("build", "include", i))
                    out.append(
                        Problem(
                            f,
                            f"build.include[{i}]",
                            f"'{inc}' is not a path inside the repository",
                            line,
                            "write a repository-relative path such as libs/mylib",
                        )
                    )
                elif not target.exists():
                    f, line = where(comp.manifest_path, ("build", "include", i))
                    out.append(Problem(f, f"build.include[{i}]", f"'{inc}' does not exist", line))
        return out

    # --- accessors that raise -------------------------------------------------------------------

    def require_valid(self) -> Loaded:
        loaded = self.loaded
        if loaded.problems:
            raise ManifestError(loaded.problems, hint="fix these, then run: r2o validate")
        return loaded

    @property
    def components(self) -> dict[str, Component]:
        return self.require_valid().components

    @property
    def images(self) -> dict[str, BaseImage]:
        return self.require_valid().images

    def component(self, name: str) -> Component:
        """One component by name; only its own manifest must be valid."""
        folder = self.root / COMPONENTS / name
        if not folder.is_dir() or name.startswith((".", "_")) or os.sep in name:
            known = [p.name for p in _subfolders(self.root / COMPONENTS)]
            raise NotFoundError(
                f"no component named '{name}'",
                hint=did_you_mean(name, known) or f"components: {', '.join(known)}",
            )
        if folder.is_symlink():
            raise ManifestError([_linked_folder(self.root, folder)])
        if not (folder / manifest.MANIFEST_FILE).is_file():
            raise InputError(f"{self.rel(folder)} has no {manifest.MANIFEST_FILE}")
        if "loaded" in self.__dict__ and name in self.loaded.components:
            return self.loaded.components[name]
        try:
            comp = self._manifests.component(folder / manifest.MANIFEST_FILE)
        except ManifestError as exc:
            raise ManifestError(self._relative(exc.problems)) from None
        self._manifests.save(prune=False)
        return comp

    def image(self, name: str) -> BaseImage:
        images = self.images
        if name not in images:
            raise NotFoundError(
                f"no base image named '{name}'",
                hint=did_you_mean(name, images) or f"base images: {', '.join(images)}",
            )
        return images[name]
