"""YAML specs: every error names file:line and the key; duplicates are refused."""

from __future__ import annotations

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

from cdiscmap.errors import SpecError
from cdiscmap.spec.models import DomainSpec, VariableSpec
from cdiscmap.spec.yamlload import parse_yaml_text, validate_located


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    items: dict[str, Inner]


def test_unknown_key_line():
    text = "name: x\nitems:\n  A:\n    column: c\n  B:\n    colum: c\n"
    with pytest.raises(SpecError) as err:
        validate_located(parse_yaml_text(text, "f.yaml"), Outer)
    assert "f.yaml:6" in str(err.value)
    assert "unknown key 'colum'" in str(err.value)


def test_duplicate_key_refused():
    with pytest.raises(SpecError, match=r"f\.yaml:3 \[a\]: duplicate key 'a' \(first at line 1\)"):
        parse_yaml_text("a: 1\nb: 2\na: 3\n", "f.yaml")


def test_syntax_error_line():
    with pytest.raises(SpecError, match=r"f\.yaml:2: YAML syntax error"):
        parse_yaml_text("a: [1,\nb: : :\n", "f.yaml")


def test_variable_needs_exactly_one_algorithm():
    with pytest.raises(ValueError, match="more than one algorithm"):
        VariableSpec.model_validate({"take": "A", "constant": "B"})
    with pytest.raises(ValueError, match="no algorithm given"):
        VariableSpec.model_validate({"case": "upper"})


def test_domain_spec_error_points_into_blocks():
    text = ("domain: AE\nblocks:\n  - name: b\n    source: {form: ae}\n    variables:\n"
            "      AETERM: {take: T, eval: 'x'}\n")
    with pytest.raises(SpecError) as err:
        validate_located(parse_yaml_text(text, "ae.yaml"), DomainSpec)
    assert "ae.yaml:6" in str(err.value)
    assert "eval" in str(err.value)


def test_keys_are_literal_text_not_yaml11_booleans():
    data = parse_yaml_text("on: SUBJECT\nno: N\n1: one\n", "f.yaml").data
    assert data == {"on": "SUBJECT", "no": "N", "1": "one"}


def _node_tree(node):
    """A node as plain tuples: kind, tag, 1-based line, and value or children."""
    if isinstance(node, yaml.MappingNode):
        return ("map", node.tag, node.start_mark.line,
                [(_node_tree(k), _node_tree(v)) for k, v in node.value])
    if isinstance(node, yaml.SequenceNode):
        return ("seq", node.tag, node.start_mark.line, [_node_tree(v) for v in node.value])
    return ("scalar", node.tag, node.start_mark.line, node.value)


def test_guarded_loader_composes_what_pyyaml_composes():
    """The loader may use libyaml's C parser for speed; on every bundled spec and study file
    it must give exactly the nodes (tags, values, lines) of PyYAML's pure-Python SafeLoader."""
    from cdiscmap.resources import specs_root, studies_root
    from cdiscmap.spec.yamlload import _GuardedLoader

    files = sorted(studies_root().rglob("*.yaml")) + sorted(specs_root().rglob("*.yaml"))
    assert len(files) > 50
    for path in files:
        text = path.read_text(encoding="utf-8")
        reference = yaml.SafeLoader(text)
        ours = _GuardedLoader(text, str(path))
        try:
            assert _node_tree(ours.get_single_node()) == \
                _node_tree(reference.get_single_node()), path
        finally:
            reference.dispose()
            ours.dispose()


def test_a_text_parsed_again_is_not_composed_again_and_gives_its_own_objects(monkeypatch):
    """A run reads study.yaml three times: the second read unpickles the first parse (no
    composer), each caller gets objects of its own, and an edited text is parsed anew."""
    from cdiscmap.spec import yamlload

    made = []

    class Counting(yamlload._GuardedLoader):
        def __init__(self, text: str, file: str) -> None:
            made.append(file)
            super().__init__(text, file)

    monkeypatch.setattr(yamlload, "_GuardedLoader", Counting)
    monkeypatch.setattr(yamlload, "_PARSED", {})
    text = "studyid: S1\narms:\n  - {code: A, label: Arm A}\n  - {code: B, label: Arm B}\n"
    first = parse_yaml_text(text, "cache-test.yaml")
    first.data["arms"][0]["label"] = "changed by a caller"
    second = parse_yaml_text(text, "cache-test.yaml")
    assert made == ["cache-test.yaml"]
    assert second.data == {"studyid": "S1", "arms": [{"code": "A", "label": "Arm A"},
                                                     {"code": "B", "label": "Arm B"}]}
    assert second.line_of(("arms", 1, "label")) == 4
    # the same text under another name (errors name it) and an edited text: parsed again
    assert parse_yaml_text(text, "other.yaml").file == "other.yaml"
    assert parse_yaml_text(text.replace("S1", "S2"), "cache-test.yaml").data["studyid"] == "S2"
    assert made == ["cache-test.yaml", "other.yaml", "cache-test.yaml"]


def test_a_failed_parse_is_not_kept(monkeypatch):
    from cdiscmap.spec import yamlload

    monkeypatch.setattr(yamlload, "_PARSED", {})
    for _ in range(2):
        with pytest.raises(SpecError, match=r"f\.yaml:3 \[a\]: duplicate key 'a'"):
            parse_yaml_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert yamlload._PARSED == {}


def test_scalar_values_are_pyyaml_safe_values():
    # each plain YAML scalar type, written plainly and with its explicit tag, is the value
    # yaml.safe_load makes of it (hand-checked below, so a change of both would show too)
    import datetime

    text = ("s: text\nq: '1'\ni: 12\nx: 0x1f\nf: 1.5\ne: 1e3\nb: true\nn: no\nz: null\n"
            "t: ~\nd: 2024-05-01\ndt: 2024-05-01 10:30:00\nti: !!int '7'\ntf: !!float '2'\n"
            "ts: !!str 12\nv: =\n")
    got = parse_yaml_text(text, "f.yaml").data
    assert got == {"s": "text", "q": "1", "i": 12, "x": 31, "f": 1.5, "e": "1e3", "b": True,
                   "n": False, "z": None, "t": None, "d": datetime.date(2024, 5, 1),
                   "dt": datetime.datetime(2024, 5, 1, 10, 30), "ti": 7, "tf": 2.0,
                   "ts": "12", "v": "="}
    assert {k: type(v) for k, v in got.items() if k != "v"} == {
        k: type(v) for k, v in yaml.safe_load(text.replace("v: =\n", "")).items()}


def test_a_scalar_that_is_not_its_tag_names_the_line():
    with pytest.raises(SpecError, match=r"f\.yaml:2: cannot read 'x' as !!int .*quote it"):
        parse_yaml_text("a: 1\nb: !!int x\n", "f.yaml")
    with pytest.raises(SpecError, match=r"f\.yaml:1: cannot read '2024-13-45' as !!timestamp"):
        parse_yaml_text("a: 2024-13-45\n", "f.yaml")
