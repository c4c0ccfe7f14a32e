"""`r2o render cloudformation`: the whole AWS side (ECR, Batch, EFS, IAM, CodeBuild) as one template."""

from __future__ import annotations

from pathlib import Path

import click

from r2o.cli.context import State, err, pass_state
from r2o.cli.render_batch import write_atomically
from r2o.render import batch, cloudformation


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
    text = cloudformation.to_yaml(cloudformation.render(repo, git_commit=batch.head_commit(repo.root)))
    if out is None:
        click.echo(text, nl=False)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, text)
    err.print(f"r2o: wrote {out}", markup=False)
    return 0
