"""YAML loading that remembers where every value came from, so errors can name ``file:line``.

PyYAML's composer gives nodes with marks; we build plain Python objects from them and keep a
table ``path tuple → line``. Duplicate keys are refused (plain PyYAML silently keeps the last one,
which hides spec mistakes).

A spec is text a person wrote, so the loader also refuses what only an accident or an attack
produces, each as a one-line SpecError naming ``file:line`` and before any work grows with it:
files over :data:`MAX_FILE_BYTES`, nesting deeper than :data:`MAX_DEPTH`, more than
:data:`MAX_ALIASES` aliases or aliases that copy in more than :data:`MAX_ALIAS_VALUES` values
(a "billion laughs" alias bomb), an alias to its own anchor, and any YAML tag other than the
plain types (``!!python/object``, ``!!binary``, local ``!tags``).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from cdiscmap.errors import SpecError, display_path

PathKey = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

MAX_FILE_BYTES = 10 * 1024 * 1024   # 10 MiB: the largest bundled spec is ~7 kB
MAX_DEPTH = 64                      # mapping/list levels; the deepest bundled spec has 11
MAX_ALIASES = 100                   # alias uses (*name) per file; the bundled specs use none
MAX_ALIAS_VALUES = 10_000           # values all aliases of a file may copy in, together

_CORE = "tag:yaml.org,2002:"
# The tags plain YAML resolves to; an explicit !!str / !!int ... of these is fine too.
_SCALAR_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_VALUE_TAG = _CORE + "value"        # a bare `=`: YAML 1.1 "value key", read here as the text "="


class YamlLimitError(ValueError):
    """A YAML document exceeds one of the loader's limits (``node`` says where)."""

    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.node = node


def expanded_size(node: yaml.Node, memo: dict[int, tuple[int, int]], depth: int = 0) -> int:
    """Number of values ``node`` stands for once every alias inside it is copied out.

    Memoised by node (``memo`` holds size and height), so the cost is linear in the nodes
    written even for an alias bomb whose expansion is 10**9 values. A node reached inside itself
    (a recursive alias), or nesting that with ``depth`` goes deeper than :data:`MAX_DEPTH`
    once aliases are copied out, raises YamlLimitError. Used for study specs and specs/ alike.
    """
    return _measure(node, memo, depth)[0]


def _measure(node: yaml.Node, memo: dict[int, tuple[int, int]], depth: int) -> tuple[int, int]:
    known = memo.get(id(node))
    if known is not None and known[0] < 0:
        raise YamlLimitError("YAML alias refers to a value that contains it", node)
    if known is None:
        if depth > MAX_DEPTH:
            raise YamlLimitError(f"YAML nesting deeper than {MAX_DEPTH} levels", node)
        memo[id(node)] = (-1, 0)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        measured = [_measure(child, memo, depth + 1) for child in children]
        known = (1 + sum(m[0] for m in measured), 1 + max((m[1] for m in measured), default=0))
        memo[id(node)] = known
    if depth + known[1] > MAX_DEPTH:
        raise YamlLimitError(f"YAML nesting deeper than {MAX_DEPTH} levels", node)
    return known


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _Parser(Composer, CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        """libyaml's C scanner and parser under PyYAML's Python composer: the same nodes,
        tags and line marks as :class:`yaml.SafeLoader` (checked on every bundled spec), about
        eight times faster — loading a study's specs was a second of every command's start.
        The composer stays in Python so the limits below are checked as nodes are made."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
else:  # pragma: no cover - PyYAML built without libyaml
    _Parser = yaml.SafeLoader  # type: ignore[misc,assignment]


class _GuardedLoader(_Parser):
    """PyYAML's safe composer, with the limits of this module checked as nodes are composed."""

    def __init__(self, text: str, file: str) -> None:
        super().__init__(text)
        self.file = file
        self.file_text = text
        self.depth = 0
        self.aliases = 0
        self.alias_values = 0
        self.open_anchors: set[str] = set()
        self.sizes: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event, line, parent, index)
        if self.depth >= MAX_DEPTH:
            raise SpecError(f"YAML nesting deeper than {MAX_DEPTH} levels", self.file, line)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self.open_anchors.add(anchor)
        self.depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self.depth -= 1
            self.open_anchors.discard(anchor)  # type: ignore[arg-type]

    def composed_in_c(self) -> yaml.Node | None | object:
        """The document's node composed by libyaml's C composer, when that surely gives
        what this loader's composer gives: the text cannot nest deeper than
        :data:`_C_NESTING` (:func:`_nesting_bound`: the C composer recurses on the C
        stack) and the nodes pass the composer's limits (:func:`_within_limits`). Else, or
        on any error, :data:`_NOT_COMPOSED`: the caller composes the text again in Python,
        which raises the error at its line (an alias's limits name the alias's line, which
        the composed nodes do not keep).

        Why: the Python composer was ≈ 20 of the ≈ 30 CPU-ms of loading a study's specs at
        the start of every run; the C composer gives the same nodes (tags, values, marks,
        styles: every bundled spec) in half the time."""
        if not _C_COMPOSER or _nesting_bound(self.file_text) > _C_NESTING:
            return _NOT_COMPOSED
        try:
            node = CParser.get_single_node(self)
        except yaml.YAMLError:
            return _NOT_COMPOSED
        if node is not None and not _within_limits(node):
            return _NOT_COMPOSED
        return node

    def _alias(self, event: yaml.AliasEvent, line: int, parent: yaml.Node | None,
               index: Any) -> yaml.Node:
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            raise SpecError(f"more than {MAX_ALIASES} YAML aliases (*name) in one file",
                            self.file, line)
        if event.anchor in self.open_anchors:
            raise SpecError(f"YAML alias *{event.anchor} refers to a value that contains it",
                            self.file, line)
        node: yaml.Node = super().compose_node(parent, index)
        try:
            self.alias_values += expanded_size(node, self.sizes, self.depth)
        except YamlLimitError as exc:
            raise SpecError(str(exc), self.file, line) from None
        if self.alias_values > MAX_ALIAS_VALUES:
            raise SpecError(f"YAML aliases expand to more than {MAX_ALIAS_VALUES} values "
                            f"(alias *{event.anchor})", self.file, line)
        return node


_C_COMPOSER = getattr(yaml, "__with_libyaml__", False)
# the deepest nesting left to libyaml's C composer (its recursion is on the C stack, a few
# hundred bytes a level): well above any spec (the deepest bundled one has 11 levels)
_C_NESTING = 1000
_NOT_COMPOSED = object()


def _nesting_bound(text: str) -> int:
    r"""At least the deepest nesting of collections the YAML ``text`` can hold: a block
    collection inside another starts at a greater column, or at the same column once (a
    sequence as a mapping's value; ``- - x``, ``? ? x`` take two columns a level), so block
    nesting is at most twice the widest line; each flow collection opens with a bracket.

    >>> _nesting_bound("a:\n  - [1, {b: 2}]\n")
    36
    """
    widest = max(map(len, text.splitlines()), default=0)
    return 2 * (widest + 2) + text.count("[") + text.count("{")


def _within_limits(root: yaml.Node) -> bool:
    """Whether a document composed in C (``root``) passes the checks
    :class:`_GuardedLoader`'s composer makes as it composes: no node :data:`MAX_DEPTH`
    levels deep (``root`` is level 0); aliases (a node reached again, in document order) at
    most :data:`MAX_ALIASES`, none to a value that contains it, and together copying in at
    most :data:`MAX_ALIAS_VALUES` values (:func:`expanded_size` from the alias's level).
    False: the Python composer is to say what is wrong, at its line."""
    sizes: dict[int, tuple[int, int]] = {}
    seen: set[int] = set()
    open_nodes: set[int] = set()
    aliases = alias_values = 0
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, leaving = stack.pop()
        if leaving:
            open_nodes.discard(id(node))
            continue
        if id(node) in seen:
            if id(node) in open_nodes:
                return False
            aliases += 1
            try:
                alias_values += expanded_size(node, sizes, depth)
            except YamlLimitError:
                return False
            if aliases > MAX_ALIASES or alias_values > MAX_ALIAS_VALUES:
                return False
            continue
        if depth >= MAX_DEPTH:
            return False
        seen.add(id(node))
        open_nodes.add(id(node))
        stack.append((node, depth, True))
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            continue
        stack.extend((child, depth + 1, False) for child in reversed(children))
    return True


@dataclass
class LocatedYaml:
    """Parsed YAML data plus the line of every mapping key / sequence item (1-based)."""

    data: Any
    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int | None:
        """Line of ``path`` or of its nearest located ancestor."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


def _construct(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], file: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if len(path) >= MAX_DEPTH:  # reached through aliases (the composer checks written depth)
        raise SpecError(f"YAML nesting deeper than {MAX_DEPTH} levels", file,
                        node.start_mark.line + 1)
    _check_tag(node, file)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError("YAML merge keys (<<) are not supported in specs", file,
                                key_node.start_mark.line + 1)
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError("mapping keys must be plain scalars", file,
                                key_node.start_mark.line + 1)
            _check_tag(key_node, file)
            # Keys are taken as written: YAML 1.1 would read `on`, `no`, `y` as booleans.
            key = key_node.value
            if key in out:
                raise SpecError(f"duplicate key '{key}' (first at line "
                                f"{lines.get(path + (key,), '?')})", file,
                                key_node.start_mark.line + 1, key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, path + (key,), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            items.append(_construct(item, path + (i,), lines, file))
        return items
    if node.tag == _STR_TAG or node.tag == _VALUE_TAG:
        return node.value                   # what SafeConstructor makes of a text scalar
    try:
        return _SCALAR_CONSTRUCTORS[node.tag](_SCALARS, node)  # type: ignore[no-any-return]
    except (ValueError, TypeError, OverflowError, yaml.YAMLError) as exc:
        # e.g. `!!int "x"`, or an unquoted date-like value that is no date (2024-13-45)
        reason = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        raise SpecError(f"cannot read {node.value!r} as {_tag_name(node.tag)} ({reason}); "
                        "quote it to keep it as text", file, node.start_mark.line + 1) from None


def _check_tag(node: yaml.Node, file: str) -> None:
    """Only plain YAML types: a spec is data, never objects, bytes or application tags."""
    if isinstance(node, yaml.ScalarNode):
        allowed = node.tag in _SCALAR_TAGS or node.tag == _VALUE_TAG
    elif isinstance(node, yaml.MappingNode):
        allowed = node.tag == _CORE + "map"
    else:
        allowed = node.tag == _CORE + "seq"
    if not allowed:
        raise SpecError(f"YAML tag {_tag_name(node.tag)} is not allowed: specs hold text, "
                        "numbers, true/false, lists and mappings", file,
                        node.start_mark.line + 1)


# Scalars are made by PyYAML's own safe constructors (int, float, bool, null, timestamp),
# called on one shared constructor: they read only the node and class attributes, and a
# SafeLoader per scalar (reader, scanner, parser set up for an empty text) was a third of the
# time of making a spec's values. _check_tag has refused every other tag before.
_STR_TAG = _CORE + "str"
_SCALARS = SafeConstructor()
_SCALAR_CONSTRUCTORS = {tag: SafeConstructor.yaml_constructors[tag] for tag in _SCALAR_TAGS}


# (file as shown, text) → the pickled LocatedYaml of a text parsed before in this process: a
# run reads study.yaml three times and each ADaM settings file twice (different modules, each
# complete on its own); unpickling a copy is ~40x cheaper than composing the nodes again.
# Keyed on the text itself, so an edited file is parsed again; a failed parse is not kept.
_PARSED: dict[tuple[str, str], bytes] = {}
_PARSED_MAX = 64


def parse_yaml_text(text: str, file: str) -> LocatedYaml:
    """Parse YAML text; syntax errors and the limits above become SpecError with file:line.

    Each call returns its own objects (callers may change them), even for a text parsed
    before (:data:`_PARSED`)."""
    known = _PARSED.get((file, text))
    if known is not None:
        return pickle.loads(known)  # noqa: S301 - bytes this process pickled itself
    located = _parse_yaml_text(text, file)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[(file, text)] = pickle.dumps(located, protocol=pickle.HIGHEST_PROTOCOL)
    return located


def _parse_yaml_text(text: str, file: str) -> LocatedYaml:
    if len(text) > MAX_FILE_BYTES:
        raise SpecError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the limit "
                        "for a spec", file)
    loader = _GuardedLoader(text, file)
    try:
        node = loader.composed_in_c()
        if node is _NOT_COMPOSED:
            loader.dispose()
            loader = _GuardedLoader(text, file)
            node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or str(exc)
        raise SpecError(f"YAML syntax error: {problem}", file, line) from None
    except yaml.YAMLError as exc:  # pragma: no cover - other YAML errors carry no mark
        raise SpecError(f"YAML error: {exc}", file) from None
    finally:
        loader.dispose()
    lines: dict[PathKey, int] = {}
    data = None if node is None else _construct(node, (), lines, file)
    return LocatedYaml(data=data, file=file, lines=lines)


def load_yaml(path: Path | str) -> LocatedYaml:
    """Read and parse one YAML file (missing/unreadable file → SpecError)."""
    p = Path(path)
    shown = display_path(p)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:  # refused before reading it into memory
            raise SpecError(f"file is {size / (1024 * 1024):.1f} MB; a spec may be at most "
                            f"{MAX_FILE_BYTES // (1024 * 1024)} MB", shown)
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("file not found", shown) from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", shown) from None
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror}", shown) from None
    return parse_yaml_text(text, shown)


def _describe(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    loc = err.get("loc", ())
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}'"
    if kind == "missing":
        return f"missing required key '{loc[-1]}'"
    msg = str(err.get("msg", "invalid value"))
    return msg[0].lower() + msg[1:] if msg else "invalid value"


def validate_located(located: LocatedYaml, model: type[M], *, context: str = "") -> M:
    """Validate parsed YAML against a pydantic model; errors name file:line and the key path.

    All errors are reported together (one per line), the first one's line is the error's line.
    """
    try:
        return model.model_validate(located.data if located.data is not None else {})
    except ValidationError as exc:
        messages = []
        first_line = None
        for err in exc.errors():
            loc = tuple(x for x in err.get("loc", ()) if not (isinstance(x, str) and
                                                              x.startswith("function-")))
            # pydantic adds union-member / tagged names into loc; keep only data keys we know
            data_loc = _data_path(located, loc)
            line = located.line_of(data_loc)
            if first_line is None:
                first_line = line
            key = ".".join(str(x) for x in data_loc) or "(top)"
            where = f"{located.file}:{line}" if line else located.file
            messages.append(f"{where} [{key}]: {_describe(err)}")
        prefix = f"{context}: " if context else ""
        if len(messages) == 1:
            msg = messages[0]
            # SpecError formats file:line itself; strip our prefix to avoid doubling
            head, _, tail = msg.partition(": ")
            raise SpecError(prefix + tail, located.file, first_line,
                            head.split("[", 1)[1].rstrip("]") if "[" in head else None) from None
        raise SpecError(prefix + f"{len(messages)} problems:\n  " + "\n  ".join(messages),
                        located.file, first_line) from None


def _data_path(located: LocatedYaml, loc: tuple[Any, ...]) -> PathKey:
    """Drop loc parts that are pydantic's own (union tags), keeping those present in the data."""
    out: list[str | int] = []
    node: Any = located.data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part not in node and \
                out and not isinstance(node.get(part), dict):
            # a key the user wrote wrongly (extra_forbidden) or a missing key: keep it for the message
            out.append(part)
            node = None
        else:
            continue
    return tuple(out)


def load_model(path: Path | str, model: type[M], *, context: str = "") -> M:
    """Load a YAML file straight into a pydantic model with file:line errors."""
    return validate_located(load_yaml(path), model, context=context)
