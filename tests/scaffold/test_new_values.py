"""`r2o new`: whatever a user types as description or owner reads back as exactly that value.

The templates never paste a value as text: YAML gets ``yaml.safe_dump``'s flow form, the Python
docstring gets an escaped string, the README escaped Markdown. A hypothesis test feeds arbitrary
one-line text through the rendering and reads every file back with the parser of its language.
"""

from __future__ import annotations

import ast
import re
import string
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from r2o import manifest, names, scaffold
from r2o.cli.main import main
from r2o.errors import UsageError
from tests.test_cli import assert_clean_error, r2o

# One line of text as `r2o new` accepts it: no control characters, surrogates or line separators.
ONE_LINE = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=120
).filter(lambda s: s.strip() != "")
# Text made of the characters that broke the templates (YAML, Python and Markdown syntax).
SYNTAX = st.text(st.sampled_from([*string.punctuation, " ", "a", "1", "é"]), min_size=1, max_size=40).filter(
    lambda s: s.strip() != ""
)
NAMES = st.from_regex(names.NAME, fullmatch=True).filter(lambda n: names.problem(n) == "")


def readme_paragraph(text: str) -> str:
    """The plain text of the README's first paragraph after the title, as CommonMark (+ GFM) reads it."""
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    tokens = md.parse(text)
    inline = [t for t in tokens if t.type == "inline"]
    assert tokens[0].type == "heading_open" and tokens[3].type == "paragraph_open", [
        t.type for t in tokens[:5]
    ]
    children = inline[1].children or []
    assert all(c.type in ("text", "softbreak") for c in children), [c.type for c in children]
    return "".join(c.content for c in children)


def check_rendering(name: str, description: str, owners: tuple[str, ...], template: str) -> None:
    request = scaffold.NewComponent(
        name, template, scaffold.DEFAULT_BASE[template], description, owners=owners, vcpus=2
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "components" / name
        scaffold.render_into(folder, request)
        component = manifest.load(folder)
        assert component.name == name
        assert component.description == description
        assert component.owners == owners
        assert readme_paragraph((folder / "README.md").read_text(encoding="utf-8")) == description.strip()
        if template == "python":
            source = (folder / "algorithm.py").read_text(encoding="utf-8")
            module = ast.parse(source)  # the generated Python compiles
            compile(source, "algorithm.py", "exec")
            docstring = ast.get_docstring(module, clean=False)
            assert docstring is not None and docstring.split("\n", 1)[0] == f"{name}: {description}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=NAMES,
    description=st.one_of(ONE_LINE, SYNTAX),
    owners=st.lists(st.one_of(ONE_LINE, SYNTAX), min_size=1, max_size=3, unique=True).map(tuple),
    template=st.sampled_from(scaffold.TEMPLATES),
)
def test_any_one_line_description_and_owners_round_trip(
    name: str, description: str, owners: tuple[str, ...], template: str
) -> None:
    check_rendering(name, description, owners, template)


@pytest.mark.parametrize(
    "description",
    [
        "TODO: say what foo computes (python template).",  # the default of `r2o new foo`
        "# x",
        "[x",
        "*x",
        "@x",
        "x]",
        'a """ b',
        'ends with a quote"',
        "back\\slash \\n",
        "yes",
        "null",
        "- list",
        "1. list",
        "&amp; <b>html</b>",
        "{{ jinja }}",
        "  padded  ",
    ],
)
def test_the_reported_descriptions(description: str) -> None:
    check_rendering("foo", description, ("x]", "a, b"), "python")


@pytest.mark.parametrize(
    ("description", "needle"),
    [
        ("two\nlines", "U+000A"),
        ("tab\there", "U+0009"),
        ("line\u2028separator", "U+2028"),
        ("   ", "must not be empty"),
        ("x" * 501, "the limit is 500"),
    ],
)
def test_descriptions_that_are_not_one_line_are_refused(description: str, needle: str) -> None:
    request = scaffold.NewComponent("foo", "python", "python-sci", description)
    with pytest.raises(UsageError, match=re.escape(needle)):
        request.check()


def test_owner_is_repeatable_and_never_split(repo_copy: Path) -> None:
    # "a, b" is one owner; two owners are two --owner options.
    request = scaffold.NewComponent("foo", "python", "python-sci", "d", owners=("a, b", "c"))
    check_rendering(request.name, request.description, request.owners, "python")
    assert_clean_error(
        r2o("new", "foo", "--owner", "a", "--owner", "a", cwd=repo_copy), 2, "--owner 'a' is given twice"
    )
    assert_clean_error(r2o("new", "foo", "--owner", "a\nb", cwd=repo_copy), 2, "--owner must be one line")
    assert_clean_error(
        r2o("new", "foo", "--description", "", cwd=repo_copy), 2, "--description must not be empty"
    )
    assert not (repo_copy / "components" / "foo").exists()


def test_r2o_new_without_a_description_creates_a_valid_component(
    repo_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`r2o new foo` through the real entry point, with the image build and the golden run replaced."""
    from r2o.golden import runner
    from r2o.run.backend import Backend

    # The one backend factory builds and runs in Docker: replaced by a backend that runs nothing.
    monkeypatch.setattr(
        scaffold, "prepare", lambda repo, names, **k: Backend("docker", object(), {names[0]: "x"})
    )  # type: ignore[arg-type]
    monkeypatch.setattr(runner, "record", lambda *a, **k: None)
    monkeypatch.setattr(runner, "check_component", lambda *a, **k: [])
    with pytest.raises(SystemExit) as info:
        main(["--repo", str(repo_copy), "new", "foo", "--owner", "x]", "--owner", "a, b"])
    captured = capsys.readouterr()
    assert info.value.code == 0, captured.err
    assert "created components/foo" in captured.out
    component = manifest.load(repo_copy / "components" / "foo")
    assert component.description == "TODO: say what foo computes (python template)."
    assert component.owners == ("x]", "a, b")


def test_the_one_line_rule_matches_the_strategy() -> None:
    # The strategy above excludes exactly what NewComponent.check refuses (besides blank text).
    for char in ("\t", "\n", "\r", "\x00", "\x85", "\u2028", "\u2029"):
        assert unicodedata.category(char) in ("Cc", "Zl", "Zp")
        with pytest.raises(UsageError, match="one line"):
            scaffold.NewComponent("foo", "python", "python-sci", f"a{char}b").check()
