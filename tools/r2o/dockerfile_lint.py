"""Lint rules for the Dockerfiles of components and base images, as small registered units.

Each rule has an id, a name, a severity and a docstring whose first paragraph is the help users
read. ``r2o validate`` runs every rule on every Dockerfile: an ``error`` fails validation, a
``warning`` is printed and does not. Findings are data (``Finding``), printed once by the CLI.

What a rule may know beyond the file is in ``LintContext``: the build arguments r2o fills with
the content tags of project images (``BASE_IMAGE``, and a component's ``build.images``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from r2o import sensitive
from r2o.dockerfile import Dockerfile, Instruction, onbuild_trigger, parse_file
from r2o.errors import Problem

ERROR = "error"
WARNING = "warning"
BASE_IMAGE_ARG = "BASE_IMAGE"


@dataclass(frozen=True)
class LintContext:
    """What the repository says about one Dockerfile."""

    image_args: frozenset[str] = frozenset({BASE_IMAGE_ARG})  # ARGs r2o sets to project image tags


@dataclass(frozen=True)
class Finding:
    file: Path
    line: int
    rule: str
    name: str
    severity: str
    message: str
    help: str

    def problem(self) -> Problem:
        """As a located Problem: ``file:line: DF003 download-piped-to-shell: message (help)``."""
        return Problem(self.file, f"{self.rule} {self.name}", self.message, self.line, self.help)

    def as_dict(self) -> dict[str, object]:
        return {
            "file": str(self.file),
            "line": self.line,
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "help": self.help,
        }


Check = Callable[[Dockerfile, LintContext], Iterable[tuple[int, str]]]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: str
    check: Check

    @property
    def help(self) -> str:
        """The first paragraph of the rule's docstring, on one line (``code`` shown as `code`)."""
        doc = (self.check.__doc__ or "").strip().split("\n\n", 1)[0]
        return " ".join(doc.split()).replace("``", "`")


RULES: list[Rule] = []


def rule(rule_id: str, name: str, severity: str) -> Callable[[Check], Check]:
    """Register a rule; its docstring is the help users read."""

    def register(check: Check) -> Check:
        if any(r.id == rule_id for r in RULES):
            raise ValueError(f"lint rule {rule_id} is registered twice")
        RULES.append(Rule(rule_id, name, severity, check))
        return check

    return register


def lint(dockerfile: Dockerfile, context: LintContext | None = None) -> list[Finding]:
    """Every finding of every rule, in line order."""
    ctx = context or LintContext()
    out = [
        Finding(dockerfile.path, line, r.id, r.name, r.severity, message, r.help)
        for r in RULES
        for line, message in r.check(dockerfile, ctx)
    ]
    return sorted(out, key=lambda f: (f.line, f.rule))


def lint_file(path: Path, context: LintContext | None = None) -> list[Finding]:
    return lint(parse_file(path), context)


def _all(dockerfile: Dockerfile, *keywords: str) -> Iterator[Instruction]:
    """Instructions with one of ``keywords``, including those an ONBUILD would run."""
    for ins in dockerfile.instructions:
        trigger = onbuild_trigger(ins)
        if ins.keyword in keywords:
            yield ins
        elif trigger is not None and trigger.keyword in keywords:
            yield trigger


# --- rules ------------------------------------------------------------------------------------


@rule("DF000", "dockerfile-syntax", ERROR)
def _syntax(dockerfile: Dockerfile, ctx: LintContext) -> Iterable[tuple[int, str]]:
    """The Dockerfile must parse: known instructions, closed heredocs, no dangling continuation, a FROM.

    docker build would stop at the same place; fix the line named.
    """
    return [(e.line, e.message) for e in dockerfile.errors]


def _assignments(ins: Instruction) -> list[tuple[str, str | None]]:
    """``ENV A=1 B="x y"`` / legacy ``ENV A 1`` / ``ARG A[=1] ...`` as (name, value or None)."""
    words = ins.words()
    if not words:
        return []
    if ins.keyword == "ENV" and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    out: list[tuple[str, str | None]] = []
    for word in words:
        name, sep, value = word.partition("=")
        out.append((name, value if sep else None))
    return out


@rule("DF001", "secret-in-env-or-arg", ERROR)
def _secrets(dockerfile: Dockerfile, ctx: LintContext) -> Iterable[tuple[int, str]]:
    """No secret in ENV or ARG: their values stay in the image's config and history for anyone who
    pulls it. Give the job the secret at run time through the manifest's ``secrets:`` (Secrets
    Manager or SSM Parameter Store), or use a BuildKit secret mount for build-time credentials."""
    for ins in _all(dockerfile, "ENV", "ARG"):
        for name, value in _assignments(ins):
            problem = sensitive.problem(name, value)
            if problem:
                yield ins.line, f"{ins.keyword} {name}: {problem}"


_FLAGS = re.compile(r"^(?:--\S+\s+)*")
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)


def _sources(ins: Instruction) -> list[str]:
    """The sources of an ADD or COPY (every path but the last), in shell or JSON form."""
    text = _FLAGS.sub("", ins.arguments.strip())
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            return list(parsed[:-1])
    words = [w for w in ins.words() if not w.startswith("--")]
    return [w for w in words[:-1] if not w.startswith("<<")]


@rule("DF002", "add-from-url", ERROR)
def _add_url(dockerfile: Dockerfile, ctx: LintContext) -> Iterable[tuple[int, str]]:
    """No ADD from a URL or git repository: the build would download whatever the address serves
    that day, so the content tag no longer says what is inside. Put the file in the component's
    folder (or a lib) and COPY it."""
    for ins in _all(dockerfile, "ADD"):
        for source in _sources(ins):
            if _URL.match(source):
                yield ins.line, f"ADD {source} downloads at build time"


_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash"})
_LIST_SPLIT = re.compile(r"&&|\|\||;|\n")
_SUBSTITUTION = re.compile(r"\b(?:ba|da|z|k)?sh\b[^\n;|&]*?(?:\$\(|`|<\()\s*(?:curl|wget)\b")


def _shell_text(ins: Instruction) -> str:
    """What a RUN hands to a shell: its arguments (JSON form joined) and heredoc bodies."""
    text = ins.arguments.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            text = " ".join(parsed)
    return "\n".join((text, *ins.heredocs))


def _downloads(stage: str) -> bool:
    """Whether a pipeline stage runs curl or wget (also as ``sh -c "curl ..."``)."""
    return any(PurePosixPath(word.strip("\"'")).name in ("curl", "wget") for word in stage.split())


def _command(stage: str) -> str:
    """The program a pipeline stage runs (after sudo, env and VAR=value prefixes), as a base name."""
    for word in stage.split():
        if word in ("sudo", "env", "exec", "command") or word.startswith("-") or "=" in word:
            continue
        return PurePosixPath(word).name
    return ""


@rule("DF003", "download-piped-to-shell", ERROR)
def _pipe_to_shell(dockerfile: Dockerfile, ctx: LintContext) -> Iterable[tuple[int, str]]:
    """No ``curl ... | sh`` (or wget, bash, ...): a script fetched at build time runs unchecked and
    changes without the content tag changing. Install from the Debian packages of the base image
    (image.yaml packages), or vendor the script into the repository and COPY it."""
    for ins in _all(dockerfile, "RUN"):
        found = False
        text = _shell_text(ins)
        for commands in _LIST_SPLIT.split(text):
            stages = commands.split("|")
            for i, stage in enumerate(stages):
                if _downloads(stage) and any(_command(later) in _SHELLS for later in stages[i + 1 :]):
                    found = True
        if found or _SUBSTITUTION.search(text):
            yield ins.line, "RUN runs a downloaded script in a shell"


def _user(value: str) -> str:
    return value.strip().split(":", 1)[0]


@rule("DF004", "final-user-root", ERROR)
def _final_user_root(dockerfile: Dockerfile, ctx: LintContext) -> Iterable[tuple[int, str]]:
    """The image must not end as root: switch back to the unprivileged user (``USER 1000``) after
    the steps that need root. r2o runs containers as uid 1000, but the image is also pulled and
    run elsewhere."""
    stages = dockerfile.stages
    if len(stages) < 2:
        return
    users = [ins for ins in stages[-1] if ins.keyword == "USER"]
    if users and _user(users[-1].arguments) in ("root", "0"):
        yield users[-1].line, f"the last USER of the final stage is {users[-1].arguments.strip()}"


_ARG_REFERENCE = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")


@rule("DF005", "from-project-image", ERROR)
def _from_project_image(dockerfile: Dockerfile, ctx: LintContext) -> Iterable[tuple[int, str]]:
    """Build FROM project images only: ``FROM ${BASE_IMAGE}`` (r2o passes the content tag of the
    base image), an ARG named in the manifest's ``build.images`` (multi-stage builds), each
    declared before the first FROM, an earlier stage, or ``scratch``. An image from a registry is
    neither reproducible nor reachable here."""
    global_args: set[str] = set()
    stages: set[str] = set()
    seen_from = False
    for ins in dockerfile.instructions:
        if ins.keyword == "ARG" and not seen_from:
            global_args.update(name for name, _ in _assignments(ins))
        if ins.keyword != "FROM":
            continue
        seen_from = True
        words = [w for w in ins.words() if not w.startswith("--")]
        if not words:
            continue
        image = words[0]
        alias = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else ""
        reference = _ARG_REFERENCE.match(image)
        allowed = ", ".join(f"${{{a}}}" for a in sorted(ctx.image_args))
        if image.lower() == "scratch" or image.lower() in stages:
            pass
        elif reference is not None:
            arg = reference.group(1) or reference.group(2)
            if arg not in ctx.image_args:
                yield ins.line, f"FROM {image}: r2o does not set {arg} to a project image (it sets {allowed})"
            elif arg not in global_args:
                yield ins.line, f"FROM {image}: ARG {arg} is not declared before the first FROM"
        else:
            yield (
                ins.line,
                f"FROM {image} is not a project image (use {allowed}, an earlier stage or scratch)",
            )
        if alias:
            stages.add(alias)


_OCTAL = re.compile(r"\bchmod\s+(?:-[A-Za-z]+\s+)*([0-7]{3,4})\b")
_SYMBOLIC = re.compile(r"\bchmod\s+(?:-[A-Za-z]+\s+)*(?:[ugoa]*,)*[ugo]*[oa][ugoa]*[+=][rwxXst]*w")


@rule("DF006", "world-writable", WARNING)
def _world_writable(dockerfile: Dockerfile, ctx: LintContext) -> Iterable[tuple[int, str]]:
    """Avoid making files world-writable (``chmod 777``, ``o+w``): any process in the container may
    then change code or data. Give the files to the user that writes them (uid 1000) instead; a
    sticky scratch folder (1777) is fine."""
    for ins in _all(dockerfile, "RUN"):
        text = _shell_text(ins)
        for mode in _OCTAL.findall(text):
            sticky = len(mode) == 4 and int(mode[0]) & 1
            if int(mode[-1]) & 2 and not sticky:
                yield ins.line, f"chmod {mode} makes files writable by every user"
        if _SYMBOLIC.search(text):
            yield ins.line, "chmod gives write permission to every user"
