"""What looks like a secret: names and values that must never be written into a manifest or image.

Used by the manifest's ``environment:`` check and by the Dockerfile lint rules (ENV/ARG). A secret
reaches a job only as a Secrets Manager or SSM Parameter Store reference (the manifest's
``secrets:``), which AWS Batch resolves when the container starts; anything written as a value
ends up in plain text in the job definition, the image history and every log of both.
"""

from __future__ import annotations

import re

# Word parts of a variable name (split at "_") that mark it as holding a secret...
_SECRET_WORDS = frozenset({"SECRET", "SECRETS", "TOKEN", "TOKENS", "PASSWORD", "PASSWD", "PASSPHRASE"})
# ...and runs of parts that do.
_SECRET_RUNS = ("API_KEY", "APIKEY", "PRIVATE_KEY", "ACCESS_KEY", "SECRET_KEY", "CLIENT_SECRET")
# A name glued together without underscores (DBPASSWORD) still says it; TOKEN alone is left to the
# word rule so that TOKENIZER_DIR is not taken for a secret.
_SECRET_SUBSTRINGS = ("SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "APIKEY", "PRIVATEKEY")

# Credential formats with a fixed, recognisable shape.
_VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
)
# An AWS secret access key: 40 characters of base64 (a plausible value for a secret-looking name).
AWS_SECRET_KEY = re.compile(r"^[A-Za-z0-9/+]{40}$")
# A reference to a secret (an ARN) is not a secret.
_REFERENCE = re.compile(r"^arn:aws[a-z-]*:(?:secretsmanager|ssm|kms):")


def secret_name(name: str) -> bool:
    """Whether an environment variable or build argument called ``name`` would hold a secret."""
    upper = name.upper()
    words = upper.split("_")
    if _SECRET_WORDS & set(words):
        return True
    joined = f"_{upper}_"
    if any(f"_{run}_" in joined for run in _SECRET_RUNS):
        return True
    return any(part in upper for part in _SECRET_SUBSTRINGS)


def secret_value(value: str) -> str:
    """What credential ``value`` looks like ("an AWS access key id"), or "" when none."""
    for what, pattern in _VALUE_PATTERNS:
        if pattern.search(value):
            return what
    return ""


def problem(name: str, value: str | None) -> str:
    """Why ``name=value`` must not be written down as text, or "" when it may.

    ``value`` is None when there is no value to look at (``ARG NAME``); an ARN is a reference,
    not a secret, and passes.
    """
    if value is not None and _REFERENCE.match(value.strip()):
        return ""
    what = secret_value(value) if value is not None else ""
    if what:
        return f"the value of {name} looks like {what}"
    if secret_name(name):
        if value is not None and AWS_SECRET_KEY.match(value.strip()):
            return f"{name} looks like a secret name and its value like an AWS secret access key"
        return f"{name} looks like the name of a secret (password, token, key)"
    return ""
