"""`r2o render batch`: one RegisterJobDefinition payload per component, checked, then written as JSON."""

from __future__ import annotations

from pathlib import Path

import click

from r2o import fs
from r2o.cli.context import State, err, pass_state, print_json
from r2o.cli.options import BatchArgs, batch_options, make_options


@click.command("batch")
@click.argument("names", nargs=-1)
@batch_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the JSON files (default: .r2o/batch in the repository).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the definitions as JSON too.")
@pass_state
def command(
    state: State,
    names: tuple[str, ...],
    batch_args: BatchArgs,
    out: Path | None,
    as_json: bool,
) -> int:
    """Write one AWS Batch job definition per component NAME (all when none), checked with botocore."""
    repo = state.repo
    from r2o.aws.validate import render_checked  # botocore's model: only for commands that check payloads

    definitions = render_checked(repo, names, make_options(repo, batch_args))
    out_dir = out if out is not None else repo.root / ".r2o" / "batch"
    out_dir.mkdir(parents=True, exist_ok=True)
    for definition in definitions:
        fs.atomic_write(out_dir / definition.filename, definition.to_json())
    if as_json:
        print_json(
            [
                {
                    "component": d.component,
                    "jobDefinitionName": d.name,
                    "file": str(out_dir / d.filename),
                    "image": d.payload["containerProperties"]["image"],
                    "payload": d.payload,
                }
                for d in definitions
            ]
        )
    err.print(
        f"r2o: wrote {len(definitions)} job definition{'s' if len(definitions) != 1 else ''} to {out_dir}",
        markup=False,
    )
    return 0
