"""The one rule for the names of components, base images and pipelines.

A name becomes, at once:

- a Docker image repository (``<registry>/<name>:<tag>``): lowercase letters and digits in runs
  joined by ``.``, ``_`` or hyphens;
- an ECR repository (``RepositoryName``): 2-256 characters of the same alphabet;
- a CloudFormation logical id: r2o drops the hyphens and capitalises each part
  (``identity-matrix`` -> ``IdentityMatrix``), so a part must not be empty (``a--b`` would give the
  same id as ``a-b``) and the id must start with a letter;
- an AWS Batch job definition name: ``r2o-<component>`` for a component and
  ``r2o-<pipeline>-<component>`` for a pipeline step, at most 128 letters, digits, hyphens and
  underscores.

A version becomes the start of the image's Docker tag (``<version>-<12 hex>``): a tag is at most
128 letters, digits, ``_``, ``.`` and ``-``, so semantic versioning's build metadata (``+build``)
cannot be part of it.

The intersection: lowercase letters and digits in parts joined by single hyphens, starting with a
letter and ending with a letter or digit, 2 to 61 characters (61 = the longest name for which
``r2o-<pipeline>-<component>`` still fits Batch's 128 characters when both are that long).
"""

from __future__ import annotations

import re

NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
MIN_LENGTH = 2  # ECR repository names have at least 2 characters
BATCH_NAME_MAX = 128
DEFINITION_PREFIX = "r2o-"  # the default prefix of Batch job definition names (r2o.render.batch)
MAX_LENGTH = (BATCH_NAME_MAX - len(DEFINITION_PREFIX) - 1) // 2
RULE = (
    f"{MIN_LENGTH}-{MAX_LENGTH} lowercase letters, digits and single hyphens, starting with a letter "
    "and ending with a letter or digit"
)
WHY = "it names the Docker image, the ECR repository, CloudFormation resources and Batch job definitions"


def problem(name: str) -> str:
    """ "" when ``name`` is valid for every place it is used, else what is wrong with it."""
    if len(name) < MIN_LENGTH:
        return f"'{name}' is too short: a name has at least {MIN_LENGTH} characters"
    if len(name) > MAX_LENGTH:
        return f"'{name[:20]}...' is {len(name)} characters long; a name has at most {MAX_LENGTH}"
    if NAME.match(name):
        return ""
    if name != name.lower():
        return f"'{name}' has uppercase letters"
    if not name[:1].isalpha() or not name[:1].isascii():
        return f"'{name}' does not start with a letter"
    if name.endswith("-"):
        return f"'{name}' ends with a hyphen"
    if "--" in name:
        return f"'{name}' has a double hyphen"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c == "-"))})
    return f"'{name}' has characters other than letters, digits and hyphens: {' '.join(map(repr, bad))}"


DOCKER_TAG_MAX = 128
_TAG_SUFFIX = len("-") + 12  # "-<12 hex>" after the version (r2o.images.tags)
_TAG_CHARACTERS = re.compile(r"^[A-Za-z0-9_.-]+$")


def version_problem(version: str) -> str:
    """ "" when ``version`` fits in an image tag, else what is wrong with it."""
    if "+" in version:
        return (
            f"'{version}' has build metadata (+...), which a Docker tag cannot hold "
            "(the image tag is <version>-<content hash>)"
        )
    if not _TAG_CHARACTERS.match(version):
        return f"'{version}' has characters a Docker tag cannot hold"
    if len(version) + _TAG_SUFFIX > DOCKER_TAG_MAX:
        limit = DOCKER_TAG_MAX - _TAG_SUFFIX
        return f"'{version[:20]}...' is too long for a Docker tag (at most {limit} characters)"
    return ""


def suggestion(name: str) -> str:
    """A valid name close to ``name`` (lowercased, other characters as hyphens), or ""."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    text = re.sub(r"^[0-9-]+", "", text)[:MAX_LENGTH].rstrip("-")
    return text if text != name and not problem(text) else ""


def hint(name: str) -> str:
    """What to write instead: the rule, and a corrected name when one is obvious."""
    close = suggestion(name)
    prefix = f"e.g. '{close}': " if close else ""
    return f"{prefix}use {RULE} ({WHY})"


def logical_id(name: str, suffix: str = "") -> str:
    """``identity-matrix`` -> ``IdentityMatrix`` (+ suffix): CloudFormation ids are alphanumeric."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part) + suffix
