"""A click group whose commands are imported on first use."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click


class LazyGroup(click.Group):
    """Commands given as ``{"name": "module:attribute"}`` (modules under r2o.cli)."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, _, attribute = self.lazy[cmd_name].partition(":")
            module = importlib.import_module(f"r2o.cli.{module_name}")
            found = getattr(module, attribute)
            if not isinstance(found, click.Command):
                raise TypeError(f"r2o.cli.{self.lazy[cmd_name]} is not a click command")
            return found
        return super().get_command(ctx, cmd_name)
