"""``python -m r2o.compare A B [options]``: the ``r2o compare`` command without the rest of the CLI."""

from __future__ import annotations

import sys

from r2o.cli.compare import compare
from r2o.errors import R2OError


def main() -> None:
    try:
        compare.main(prog_name="r2o compare")
    except R2OError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
