"""A Dockerfile as a list of instructions, parsed the way BuildKit's frontend reads one.

Enough of the grammar for linting, without running anything:

- parser directives (``# syntax=``, ``# escape=``, ``# check=``) at the very top; ``escape``
  changes the line-continuation character;
- comments (a line whose first non-blank character is ``#``) and blank lines, also inside an
  instruction continued over several lines, where they are dropped;
- line continuation with the escape character at the end of a line;
- heredocs (``<<EOF``, ``<<-EOF``, ``<<"EOF"``, ``<<'EOF'``, several per instruction) in ``RUN``,
  ``COPY`` and ``ADD``: their bodies are kept apart from the instruction's arguments;
- instruction keywords in any case; ``ONBUILD`` triggers parsed as instructions of their own.

Problems of the file itself (an unknown instruction, an unterminated heredoc, a continuation at
the end of the file, no ``FROM``) are collected in ``Dockerfile.errors``; parsing never raises.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

INSTRUCTIONS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(.*?)\s*$")
DIRECTIVES = frozenset({"syntax", "escape", "check"})  # an unknown one is a comment
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    arguments: str  # the arguments, continuation lines joined with a space, comments dropped
    line: int  # 1-based line of the keyword
    heredocs: tuple[str, ...] = ()  # bodies of the heredocs, in order

    @property
    def text(self) -> str:
        """Arguments and heredoc bodies: everything a shell might run."""
        return "\n".join((self.arguments, *self.heredocs))

    def words(self) -> list[str]:
        """The arguments split like a shell would (quotes kept together); never raises."""
        try:
            return shlex.split(self.arguments, comments=False, posix=True)
        except ValueError:  # an unbalanced quote: fall back to blanks
            return self.arguments.split()


@dataclass(frozen=True)
class ParseError:
    line: int
    message: str


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    instructions: tuple[Instruction, ...]
    directives: dict[str, str] = field(default_factory=dict)
    errors: tuple[ParseError, ...] = ()

    @property
    def stages(self) -> list[list[Instruction]]:
        """Instructions grouped by build stage (each starts with FROM); global ARGs come first alone."""
        out: list[list[Instruction]] = [[]]
        for ins in self.instructions:
            if ins.keyword == "FROM":
                out.append([])
            out[-1].append(ins)
        return out


def parse_file(path: Path) -> Dockerfile:
    """Read and parse ``path``; unreadable or oversized files give a Dockerfile with one error."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return Dockerfile(
                path, (), {}, (ParseError(1, f"is {size:,} bytes; a Dockerfile is at most 1 MiB"),)
            )
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return Dockerfile(
            path, (), {}, (ParseError(1, f"is not UTF-8 text ({exc.reason} at byte {exc.start})"),)
        )
    except OSError as exc:
        return Dockerfile(path, (), {}, (ParseError(1, f"cannot be read: {exc.strerror}"),))
    return parse(text, path)


def parse(text: str, path: Path = Path("Dockerfile")) -> Dockerfile:
    lines = text.removeprefix("\ufeff").splitlines()
    directives, start = _directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        escape = "\\"
    instructions: list[Instruction] = []
    errors: list[ParseError] = []
    i = start
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        first = i + 1
        parts: list[str] = []
        while True:
            body = lines[i].rstrip()
            continued = body.endswith(escape)
            parts.append(body[:-1] if continued else body)
            i += 1
            if not continued:
                break
            # Comment and blank lines inside a continued instruction are dropped.
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1
            if i >= len(lines):
                errors.append(ParseError(first, "the last instruction ends with a line continuation"))
                break
        joined = " ".join(p.strip() for p in parts).strip()
        keyword, _, arguments = joined.partition(" ")
        keyword = keyword.upper()
        arguments = arguments.strip()
        heredocs: list[str] = []
        if keyword in HEREDOC_INSTRUCTIONS or (
            keyword == "ONBUILD" and _onbuild_keyword(arguments) in HEREDOC_INSTRUCTIONS
        ):
            for strip_tabs, _quote, word in _HEREDOC.findall(arguments):
                body_lines: list[str] = []
                while i < len(lines) and (lines[i].lstrip("\t") if strip_tabs else lines[i]) != word:
                    body_lines.append(lines[i].lstrip("\t") if strip_tabs else lines[i])
                    i += 1
                if i >= len(lines):
                    errors.append(
                        ParseError(first, f"the heredoc <<{word} is never closed by a line '{word}'")
                    )
                else:
                    i += 1  # the delimiter line
                heredocs.append("\n".join(body_lines))
        if keyword not in INSTRUCTIONS:
            errors.append(ParseError(first, f"unknown instruction '{keyword}'"))
            continue
        instructions.append(Instruction(keyword, arguments, first, tuple(heredocs)))
    if not any(ins.keyword == "FROM" for ins in instructions) and not errors:
        errors.append(ParseError(1, "has no FROM instruction"))
    return Dockerfile(path, tuple(instructions), directives, tuple(errors))


def onbuild_trigger(ins: Instruction) -> Instruction | None:
    """The instruction an ``ONBUILD`` runs in images built FROM this one, or None."""
    if ins.keyword != "ONBUILD":
        return None
    keyword, _, arguments = ins.arguments.partition(" ")
    if keyword.upper() not in INSTRUCTIONS - {"ONBUILD", "FROM", "MAINTAINER"}:
        return None
    return Instruction(keyword.upper(), arguments.strip(), ins.line, ins.heredocs)


def _onbuild_keyword(arguments: str) -> str:
    return arguments.partition(" ")[0].upper()


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """Parser directives at the top, and the index of the first line after them."""
    found: dict[str, str] = {}
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line.strip()) if line.strip() else None
        if match is None or match.group(1).lower() not in DIRECTIVES or match.group(1).lower() in found:
            return found, index
        found[match.group(1).lower()] = match.group(2)
    return found, len(lines)
