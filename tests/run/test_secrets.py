"""secret_environment: a local run takes a component's ``secrets:`` from the caller's environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from r2o import manifest
from r2o.errors import UsageError
from r2o.manifest import Component
from r2o.run.secret_env import secret_environment

DB_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password-AbCdEf"
KEY_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/r2o/api-key"

MANIFEST = f"""\
apiVersion: r2o/v1
name: vault
version: 1.0.0
description: Reads two secrets.
base: python-sci
command: ["python3", "/app/run.py"]
environment: {{MODE: fast}}
secrets: {{DB_PASSWORD: "{DB_ARN}", API_KEY: "{KEY_ARN}"}}
resources: {{vcpus: 1, memory_mib: 512}}
"""


@pytest.fixture
def component(tmp_path: Path) -> Component:
    folder = tmp_path / "vault"
    folder.mkdir()
    (folder / "component.yaml").write_text(MANIFEST)
    return manifest.load(folder)


def test_the_manifest_holds_references_only(component: Component) -> None:
    assert dict(component.secrets) == {"DB_PASSWORD": DB_ARN, "API_KEY": KEY_ARN}
    assert dict(component.environment) == {"MODE": "fast"}


def test_values_come_from_the_environment(component: Component) -> None:
    environ = {"DB_PASSWORD": "s3cr3t", "API_KEY": "k-123", "HOME": "/root", "MODE": "slow"}
    assert secret_environment(component, environ) == {"API_KEY": "k-123", "DB_PASSWORD": "s3cr3t"}


def test_one_missing_variable_is_named_with_its_export_line(component: Component) -> None:
    with pytest.raises(UsageError) as info:
        secret_environment(component, {"DB_PASSWORD": "s3cr3t"})
    error = info.value
    assert error.exit_code == 2
    assert "API_KEY" in error.message and KEY_ARN in error.message
    assert "DB_PASSWORD" not in error.message  # only what is missing
    assert "export API_KEY=..." in error.hint
    assert "s3cr3t" not in str(error)  # a value given is never echoed


def test_every_missing_variable_is_named_at_once(component: Component) -> None:
    with pytest.raises(UsageError) as info:
        secret_environment(component, {})
    text = str(info.value)
    assert "API_KEY, DB_PASSWORD" in text
    assert "export API_KEY=...; export DB_PASSWORD=..." in text


def test_an_empty_variable_counts_as_missing(component: Component) -> None:
    with pytest.raises(UsageError, match="DB_PASSWORD"):
        secret_environment(component, {"DB_PASSWORD": "", "API_KEY": "k"})


def test_a_component_without_secrets_takes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "component.yaml").write_text(
        MANIFEST.replace("name: vault", "name: plain").replace(
            f'secrets: {{DB_PASSWORD: "{DB_ARN}", API_KEY: "{KEY_ARN}"}}\n', ""
        )
    )
    plain = manifest.load(folder)
    assert dict(plain.secrets) == {}
    assert secret_environment(plain, {"DB_PASSWORD": "s3cr3t"}) == {}
