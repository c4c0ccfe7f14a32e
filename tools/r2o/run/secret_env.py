"""A component's ``secrets:`` for a local run, taken from the environment of the r2o process.

On AWS Batch the job definition's ``secrets`` are resolved by the ECS agent from Secrets Manager or
SSM Parameter Store. Locally r2o never calls AWS for them: the caller exports each variable (from
their own vault, ``aws secretsmanager get-secret-value``, a CI secret store) and r2o passes the
values to the container's environment only. They are never written to disk: not in a plan dump,
not in provenance, not in a log; the runner hands them to the engine in memory.
"""

from __future__ import annotations

from collections.abc import Mapping

from r2o.errors import UsageError
from r2o.manifest import Component


def secret_environment(component: Component, environ: Mapping[str, str]) -> dict[str, str]:
    """``{NAME: value}`` for every ``secrets:`` entry of ``component``, read from ``environ``.

    A missing (or empty) variable is a UsageError naming all of them, with the ARN each comes from
    on Batch and the ``export`` line that provides it locally.
    """
    missing = [name for name in sorted(component.secrets) if not environ.get(name)]
    if missing:
        listed = ", ".join(missing)
        exports = "; ".join(f"export {name}=..." for name in missing)
        sources = "; ".join(f"{name} <- {component.secrets[name]}" for name in missing)
        plural = "s" if len(missing) > 1 else ""
        raise UsageError(
            f"{component.name} needs the secret{plural} {listed} (on AWS Batch: {sources}); "
            f"a local run takes {'them' if plural else 'it'} from your environment",
            hint=f"{exports}, then run again (r2o never stores the value{plural})",
        )
    return {name: environ[name] for name in sorted(component.secrets)}
