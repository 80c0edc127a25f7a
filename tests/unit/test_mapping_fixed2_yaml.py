"""Specs composed by libyaml's C composer (``yamlload._GuardedLoader.composed_in_c``) give what
the Python composer gives: the same parsed data and lines for every bundled spec, and for texts
at and past each limit of the loader the same outcome (data, or the same SpecError at the same
line), the Python composer then saying what is wrong."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.errors import SpecError
from cdiscmap.spec import yamlload


def _outcome(text: str, c_composer: bool, monkeypatch: pytest.MonkeyPatch) -> tuple:
    monkeypatch.setattr(yamlload, "_C_COMPOSER", c_composer and yamlload._C_COMPOSER)
    try:
        located = yamlload._parse_yaml_text(text, "f.yaml")
    except SpecError as exc:
        return ("error", str(exc))
    return ("data", located.data, located.lines)


def _block(levels: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "v\n"


def _chain(aliases: int) -> str:
    return "a: &a 1\n" + "".join(f"b{i}: *a\n" for i in range(aliases))


_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"b{i}: &b{i} [*{p}, *{p}, *{p}]\n" for i, p in enumerate(["a", *(f"b{j}" for j in range(11))]))

_LIMITS = [
    _block(63), _block(64), _block(65),
    "a: " + "[" * 63 + "1" + "]" * 63 + "\n", "a: " + "[" * 64 + "1" + "]" * 64 + "\n",
    "a: " + "[" * 1200 + "1" + "]" * 1200 + "\n",
    "- " * 63 + "x\n", "- " * 64 + "x\n",
    _chain(100), _chain(101), _BOMB,
    "a: &a [1, *a]\n", "a: *b\n", "a: &x 1\nb: &x 2\n",
    "a: &a {b: &b [1, 2]}\nc: *b\nd: *a\n",
    _block(60).replace("v\n", "&deep [1]\n") + "z: " + "[" * 10 + "*deep" + "]" * 10 + "\n",
    "<<: {a: 1}\n", "a: !!python/object 1\n", "a: 1\n---\nb: 2\n", "a: [1\n", "", "# nothing\n",
    "a: 1\na: 2\n", "- &s x\n- *s\n",
]


@pytest.mark.parametrize("text", _LIMITS)
def test_limits_give_what_the_python_composer_gives(text, monkeypatch):
    assert _outcome(text, True, monkeypatch) == _outcome(text, False, monkeypatch)


def test_limit_cases_by_hand(monkeypatch):
    assert _outcome(_block(63), True, monkeypatch)[0] == "data"     # its value at level 63
    kind, message = _outcome(_block(64), True, monkeypatch)
    assert kind == "error" and "f.yaml:64" in message and "deeper than 64" in message
    kind, message = _outcome(_chain(101), True, monkeypatch)
    assert kind == "error" and "f.yaml:102" in message and "more than 100 YAML aliases" in message


def test_every_bundled_spec_is_composed_in_c_as_in_python(monkeypatch):
    from cdiscmap.resources import specs_root, studies_root

    files = sorted(studies_root().rglob("*.yaml")) + sorted(specs_root().rglob("*.yaml"))
    assert len(files) > 50
    for path in files:
        text = path.read_text(encoding="utf-8")
        loader = yamlload._GuardedLoader(text, str(path))
        try:
            composed = loader.composed_in_c()
        finally:
            loader.dispose()
        if yamlload._C_COMPOSER:
            assert composed is not yamlload._NOT_COMPOSED, path
        assert _outcome(text, True, monkeypatch) == _outcome(text, False, monkeypatch), path


def _depth(node: yaml.Node | None) -> int:
    if isinstance(node, yaml.SequenceNode):
        return 1 + max((_depth(c) for c in node.value), default=0)
    if isinstance(node, yaml.MappingNode):
        return 1 + max((_depth(p) for pair in node.value for p in pair), default=0)
    return 0


@st.composite
def _documents(draw, indent: int = 0, budget: int = 12) -> str:
    """Nested block mappings, block sequences (indented or as a mapping's value at the same
    column, or ``- - x`` on one line) and flow collections."""
    pad = " " * indent
    kind = draw(st.sampled_from(["map", "seq", "same", "dashes", "flow", "scalar"])
                if budget else st.just("scalar"))
    if kind == "scalar":
        return pad + "x\n"
    if kind == "dashes":
        k = draw(st.integers(1, 4))
        return pad + "- " * k + "x\n"
    if kind == "flow":
        k = draw(st.integers(1, 4))
        return pad + "[" * k + "x" + "]" * k + "\n"
    inner = draw(_documents(indent + 2, budget - 1))
    if kind == "map":
        return pad + "k:\n" + inner
    if kind == "same" and indent >= 0:
        inner = draw(_documents(indent + 2, budget - 1))
        return pad + "k:\n" + pad + "-\n" + inner
    return pad + "-\n" + inner


@settings(deadline=None, max_examples=200)
@given(_documents())
def test_nesting_bound_is_at_least_the_depth(text):
    """The bound that keeps deep texts away from the C composer's recursion is never below
    the nesting the text really has."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return
    assert yamlload._nesting_bound(text) >= _depth(node)
