"""YAML loading that remembers where every value came from, so errors can name ``file:line``.

PyYAML's composer gives nodes with marks; we build plain Python objects from them and keep a
table ``path tuple → line``. Duplicate keys are refused (plain PyYAML silently keeps the last one,
which hides spec mistakes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from cdiscmap.errors import SpecError, display_path

PathKey = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


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
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError("YAML merge keys (<<) are not supported in specs", file,
                                key_node.start_mark.line + 1)
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError("mapping keys must be plain scalars", file,
                                key_node.start_mark.line + 1)
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
    return yaml.SafeLoader.construct_object(_scalar_loader(), node)  # type: ignore[arg-type]


def _scalar_loader() -> yaml.SafeLoader:
    loader = yaml.SafeLoader("")
    return loader


def parse_yaml_text(text: str, file: str) -> LocatedYaml:
    """Parse YAML text; syntax errors become SpecError with file:line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or str(exc)
        raise SpecError(f"YAML syntax error: {problem}", file, line) from None
    except yaml.YAMLError as exc:  # pragma: no cover - other YAML errors carry no mark
        raise SpecError(f"YAML error: {exc}", file) from None
    lines: dict[PathKey, int] = {}
    data = None if node is None else _construct(node, (), lines, file)
    return LocatedYaml(data=data, file=file, lines=lines)


def load_yaml(path: Path | str) -> LocatedYaml:
    """Read and parse one YAML file (missing/unreadable file → SpecError)."""
    p = Path(path)
    shown = display_path(p)
    try:
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
