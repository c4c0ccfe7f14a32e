"""`r2o render cloudformation`: the whole AWS side (ECR, Batch, EFS, IAM, CodeBuild) as one template."""

from __future__ import annotations

from pathlib import Path

import click

from r2o import fs, git
from r2o.cli.context import State, err, pass_state
from r2o.render import cloudformation


@click.command("cloudformation")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the template to FILE (default: print it).",
)
@pass_state
def command(state: State, out: Path | None) -> int:
    """Render the CloudFormation template (deploy with CAPABILITY_IAM and CAPABILITY_AUTO_EXPAND)."""
    repo = state.repo
    text = cloudformation.to_yaml(cloudformation.render(repo, git_commit=git.head_commit(repo.root)))
    if out is None:
        click.echo(text, nl=False)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    fs.atomic_write(out, text)
    err.print(f"r2o: wrote {out}", markup=False)
    return 0
