"""Dockerfile parsing and lint rules: a corpus of Dockerfiles, each naming the findings it must give.

Each file in tests/dockerfiles/ starts with ``# expect: RULE LINE, ...`` (or ``none``) and may say
``# args: ARG ...`` (the build arguments r2o fills with project images; default BASE_IMAGE).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from r2o import dockerfile, dockerfile_lint, scaffold
from r2o.dockerfile_lint import RULES, LintContext, lint_file

CORPUS = sorted((Path(__file__).parent / "dockerfiles").glob("*.Dockerfile"))


def _header(path: Path, key: str) -> str | None:
    match = re.search(rf"^# {key}: ?(.*)$", path.read_text(), re.MULTILINE)
    return match.group(1).strip() if match else None


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus(path: Path) -> None:
    expect = _header(path, "expect")
    assert expect is not None, f"{path.name} has no '# expect:' line"
    args = _header(path, "args")
    image_args = frozenset() if args == "none" else frozenset((args or "BASE_IMAGE").split())
    findings = lint_file(path, LintContext(image_args=image_args))
    got = sorted((f.rule, f.line) for f in findings)
    wanted = (
        []
        if expect == "none"
        else sorted((r, int(n)) for r, n in (item.split() for item in expect.split(",")))
    )
    assert got == wanted, [str(f.problem()) for f in findings]


def test_the_corpus_covers_every_rule() -> None:
    covered = {item.split()[0] for path in CORPUS for item in (_header(path, "expect") or "none").split(",")}
    assert {r.id for r in RULES} <= covered


def test_rules_are_registered_units_with_help() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)) >= 7
    for r in RULES:
        assert re.fullmatch(r"DF\d{3}", r.id) and re.fullmatch(r"[a-z-]+", r.name)
        assert r.severity in (dockerfile_lint.ERROR, dockerfile_lint.WARNING)
        assert len(r.help) > 40 and "\n" not in r.help, r.id
    with pytest.raises(ValueError, match="registered twice"):
        dockerfile_lint.rule("DF001", "again", dockerfile_lint.ERROR)(lambda df, ctx: [])


def test_a_finding_reads_as_file_line_rule_message_help(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN curl -s https://x.org/i | sh\n")
    [finding] = lint_file(path)
    assert str(finding.problem()) == (
        f"{path}:3: DF003 download-piped-to-shell: RUN runs a downloaded script in a shell ({finding.help})"
    )
    assert finding.as_dict()["severity"] == "error"


def test_parser_keeps_heredoc_bodies_and_directives() -> None:
    parsed = dockerfile.parse(
        "# syntax=docker/dockerfile:1\n# check=skip=all\nFROM scratch\n"
        "COPY <<one <<-two /dst/\nfirst\none\n\tsecond\n\ttwo\nCMD x\n"
    )
    assert parsed.directives == {"syntax": "docker/dockerfile:1", "check": "skip=all"}
    assert [(i.keyword, i.line) for i in parsed.instructions] == [("FROM", 3), ("COPY", 4), ("CMD", 9)]
    assert parsed.instructions[1].heredocs == ("first", "second")
    assert parsed.errors == ()


def test_a_comment_before_directives_ends_them() -> None:
    parsed = dockerfile.parse("# a comment\n# escape=`\nFROM scratch\nRUN a `\n b\n")
    assert parsed.directives == {}  # so the escape stays a backslash and ` continues nothing
    assert [i.keyword for i in parsed.instructions] == ["FROM", "RUN"]
    assert parsed.errors == (dockerfile.ParseError(5, "unknown instruction 'B'"),)
    escaped = dockerfile.parse("# escape=`\nFROM scratch\nRUN a `\n b\n")
    assert escaped.directives == {"escape": "`"}
    assert [(i.keyword, i.arguments) for i in escaped.instructions] == [("FROM", "scratch"), ("RUN", "a b")]


def test_unreadable_and_binary_files_are_findings_not_crashes(tmp_path: Path) -> None:
    binary = tmp_path / "Dockerfile"
    binary.write_bytes(b"FROM scratch\n\xff\xfe\n")
    [finding] = lint_file(binary)
    assert finding.rule == "DF000" and "not UTF-8" in finding.message
    missing = tmp_path / "missing" / "Dockerfile"
    [finding] = lint_file(missing)
    assert finding.rule == "DF000" and "cannot be read" in finding.message


@pytest.mark.parametrize("template", scaffold.TEMPLATES)
def test_r2o_new_templates_pass(tmp_path: Path, template: str) -> None:
    from r2o import manifest

    folder = tmp_path / "components" / "fresh"
    scaffold.render_into(
        folder, scaffold.NewComponent("fresh", template, scaffold.DEFAULT_BASE[template], "d", vcpus=2)
    )
    component = manifest.load(folder)
    context = LintContext(image_args=frozenset({"BASE_IMAGE", *component.build.images}))
    assert lint_file(folder / "Dockerfile", context) == []
