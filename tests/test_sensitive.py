"""What looks like a secret (shared by the manifest's environment check and the Dockerfile lint)."""

from __future__ import annotations

import pytest

from r2o import sensitive

AWS_EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example access key id
AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example secret key


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD",
        "password",
        "MYSQL_PASSWD",
        "GITHUB_TOKEN",
        "HF_TOKEN",
        "ACCESS_TOKENS",
        "API_KEY",
        "OPENAI_APIKEY",
        "SSH_PRIVATE_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "CLIENT_SECRET",
        "DBPASSWORD",
        "GPG_PASSPHRASE",
    ],
)
def test_secret_names(name: str) -> None:
    assert sensitive.secret_name(name)
    assert "looks like the name of a secret" in sensitive.problem(name, "x")
    assert "looks like the name of a secret" in sensitive.problem(name, None)


@pytest.mark.parametrize(
    "name", ["PYTHONPATH", "OMPI_MCA_btl_vader_single_copy_mechanism", "TOKENIZER_DIR", "KEYBOARD", "MODE"]
)
def test_ordinary_names(name: str) -> None:
    assert not sensitive.secret_name(name)
    assert sensitive.problem(name, "/app/libs") == ""


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (AWS_EXAMPLE_KEY_ID, "an AWS access key id"),
        (f"id={AWS_EXAMPLE_KEY_ID};", "an AWS access key id"),
        ("ASIA" + "Q" * 16, "an AWS access key id"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", "a private key"),
        ("ghp_" + "a1" * 18, "a GitHub token"),
        ("xoxb-1234567890-abcdef", "a Slack token"),
    ],
)
def test_secret_values_under_any_name(value: str, what: str) -> None:
    assert sensitive.secret_value(value) == what
    assert f"looks like {what}" in sensitive.problem("SETTING", value)


def test_a_secret_key_under_a_secret_name_is_called_that() -> None:
    assert "AWS secret access key" in sensitive.problem("AWS_SECRET_ACCESS_KEY", AWS_EXAMPLE_SECRET)


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
        "arn:aws:ssm:eu-west-1:123456789012:parameter/app/token",
    ],
)
def test_a_reference_is_not_a_secret(value: str) -> None:
    assert sensitive.problem("DB_PASSWORD_ARN", value) == ""


def test_values_that_merely_resemble_keys_pass() -> None:
    assert sensitive.problem("SETTING", "AKIA-not-a-key") == ""
    assert sensitive.problem("SETTING", "XAKIAIOSFODNN7EXAMPLE") == ""  # part of a longer word
