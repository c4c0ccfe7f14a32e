"""Safe, strict YAML for every file r2o reads.

The stock loaders are too forgiving for manifests: they keep the last of two duplicate keys,
turn ``2024-07-15`` into a date object, and let an alias bomb expand into billions of nodes in
whatever walks the result. This loader

- refuses files over a size limit before parsing, and bytes that are not UTF-8;
- parses with libyaml (the C loader) when available;
- refuses duplicate keys, naming both lines;
- measures the expanded size of the node graph (aliases count every time they are used) and
  refuses documents that would expand past a limit, in time linear in the distinct nodes;
- keeps timestamps as the strings the user wrote;
- records the line of every field so later checks can point at it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from r2o.errors import ManifestError, Problem

MAX_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 100_000

_BaseLoader: type[yaml.SafeLoader]
try:
    _BaseLoader = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing: fall back to pure Python
    _BaseLoader = yaml.SafeLoader


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that keeps timestamps as strings."""


def _timestamp_as_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    """A parsed document with the line (1-based) of every field path."""

    file: Path
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)

    def line(self, path: FieldPath) -> int | None:
        """Line of ``path``, or of its deepest ancestor that has one."""
        for n in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:n]))
            if found is not None:
                return found
        return None


def format_path(path: FieldPath) -> str:
    """``("inputs", 1, "path")`` -> ``inputs[1].path``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def load(path: Path, *, max_bytes: int = MAX_BYTES) -> YamlDocument:
    """Read and parse ``path`` strictly; raise ManifestError describing what is wrong."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ManifestError.single(path, "", f"cannot read the file: {exc.strerror}") from exc
    if size > max_bytes:
        raise ManifestError.single(
            path,
            "",
            f"file is {size:,} bytes, over the {max_bytes:,}-byte limit for YAML files",
            hint="manifests are small; move data into files the component reads",
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError.single(
            path,
            "",
            f"byte 0x{raw[exc.start]:02x} at offset {exc.start} is not UTF-8",
            line=line,
            hint="save the file as UTF-8",
        ) from exc
    return parse(text, path)


def parse(text: str, path: Path) -> YamlDocument:
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise ManifestError.single(path, "", "file is empty", hint="see the README for a complete example")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ManifestError.single(path, "", "file holds no document")
        lines: dict[FieldPath, int] = {}
        problems: list[Problem] = []
        _walk(node, (), lines, problems, path)
        if problems:
            raise ManifestError(problems)
        _check_expansion(node, path)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, path, text) from exc
    except yaml.YAMLError as exc:
        raise ManifestError.single(path, "", f"not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ManifestError.single(path, "", "nesting is too deep", hint="flatten the document") from exc
    finally:
        loader.dispose()
    return YamlDocument(path, data, lines)


def _syntax_error(exc: yaml.MarkedYAMLError, path: Path, text: str) -> ManifestError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = exc.problem or "syntax error"
    hint = "check indentation and quoting on that line"
    source_lines = text.splitlines()
    source = source_lines[line - 1] if line is not None and 0 < line <= len(source_lines) else ""
    leading = source[: len(source) - len(source.lstrip())]
    if "\t" in leading or "'\\t'" in problem:
        problem = "a tab character is used for indentation"
        hint = "YAML allows only spaces for indentation; replace the tabs with spaces"
    elif exc.context:
        problem = f"{problem} ({exc.context})"
    return ManifestError.single(path, "", f"YAML syntax error: {problem}", line=line, hint=hint)


def _walk(
    node: yaml.Node, at: FieldPath, lines: dict[FieldPath, int], problems: list[Problem], path: Path
) -> None:
    """Record lines and find duplicate keys; each distinct node is walked once."""
    seen_nodes: set[int] = set()

    def visit(node: yaml.Node, at: FieldPath) -> None:
        lines.setdefault(at, node.start_mark.line + 1)
        if id(node) in seen_nodes:
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_line: dict[Hashable, int] = {}
            for key_node, value_node in node.value:
                key: Hashable = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
                line = key_node.start_mark.line + 1
                if key in first_line:
                    problems.append(
                        Problem(
                            path,
                            format_path((*at, str(key))),
                            f"duplicate key '{key}' (first defined on line {first_line[key]})",
                            line,
                            "remove one of them: YAML would silently keep only the last",
                        )
                    )
                    continue
                first_line[key] = line
                child = (*at, str(key))
                lines[child] = line
                visit(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                visit(item, (*at, index))

    visit(node, at)


def _check_expansion(root: yaml.Node, path: Path) -> None:
    """Refuse documents whose alias-expanded size exceeds MAX_EXPANDED_NODES."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:  # a recursive alias: infinitely large when expanded
            return MAX_EXPANDED_NODES + 1
        in_progress.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_EXPANDED_NODES:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
                if total > MAX_EXPANDED_NODES:
                    break
        in_progress.discard(key)
        sizes[key] = total
        return total

    if size(root) > MAX_EXPANDED_NODES:
        raise ManifestError.single(
            path,
            "",
            f"aliases expand this document past {MAX_EXPANDED_NODES:,} nodes (an alias bomb?)",
            hint="write the values out instead of nesting aliases",
        )
