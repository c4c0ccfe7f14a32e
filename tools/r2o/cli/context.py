"""What every command shares: the repository option, output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # imported when a command asks for them: `r2o compare` needs neither
    from rich.console import Console

    from r2o.repo import Repository


@dataclass
class State:
    repo_option: Path | None = None
    debug: bool = False
    _repo: Repository | None = None

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            from r2o.repo import Repository

            self._repo = Repository.discover(self.repo_option)
        return self._repo


pass_state = click.make_pass_decorator(State, ensure=True)


class RegistryParam(click.ParamType):  # type: ignore[type-arg]
    """A registry address (HOST[:PORT][/PATH]), checked before anything talks to it."""

    name = "registry"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from r2o.images.engine import registry_problem

        text = str(value)
        problem = registry_problem(text)
        if problem:
            self.fail(problem, param, ctx)
        return text


REGISTRY = RegistryParam()
F = TypeVar("F", bound=Callable[..., Any])


def registry_option(help_text: str) -> Callable[[F], F]:
    """``--registry HOST[:PORT]`` (env R2O_REGISTRY), checked before anything talks to it."""
    return click.option(
        "--registry",
        envvar="R2O_REGISTRY",
        type=REGISTRY,
        default=None,
        metavar="HOST[:PORT]",
        help=f"{help_text} (env R2O_REGISTRY).",
    )


class LazyConsole:
    """A rich Console for stdout or stderr, made when first used: commands that print through click
    (`r2o compare`) never load rich, which costs ~25 ms of every start."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            stream = sys.stderr if self._stderr else sys.stdout
            # piped output (r2o images | grep ...) must not be cut to 80 columns
            width = None if stream.isatty() else 240
            # emoji=False: messages quote user text such as Secrets Manager ARNs ("...:secret:db"),
            # which rich would otherwise turn into emoji even with markup=False.
            self._console = Console(
                stderr=self._stderr, highlight=False, soft_wrap=True, width=width, emoji=False
            )
        return self._console

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self.console.print(*objects, **kwargs)

    @property
    def is_terminal(self) -> bool:
        return self.console.is_terminal


out = LazyConsole(stderr=False)
err = LazyConsole(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
