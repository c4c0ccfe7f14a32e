"""`r2o render batch|cloudformation|codebuild`: infrastructure files rendered from the manifests."""

from __future__ import annotations

import click

from r2o.cli.lazy import LazyGroup

SUBCOMMANDS = {
    "batch": "render_batch:command",
    "cloudformation": "render_cloudformation:command",
    "codebuild": "render_codebuild:command",
}


@click.group("render", cls=LazyGroup, lazy=SUBCOMMANDS)
def command() -> None:
    """Render AWS Batch job definitions, CloudFormation, or the CodeBuild buildspec."""
