"""`r2o render batch|cloudformation|codebuild`: infrastructure files rendered from the manifests."""

from __future__ import annotations

import click


@click.group("render")
def command() -> None:
    """Render AWS Batch job definitions, CloudFormation, or the CodeBuild buildspec."""


def register(*subcommands: click.Command) -> None:
    for sub in subcommands:
        command.add_command(sub)
