"""What every command shares: the repository option, output helpers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

if TYPE_CHECKING:  # imported when a command asks for the repository: `r2o compare` never does
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

# Piped output (r2o images | grep ...) must not be cut to 80 columns.
_WIDTH = None if sys.stdout.isatty() else 240
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 240)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
