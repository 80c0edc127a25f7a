"""Write docs/adam-settings.md from the ADaM settings models (their field descriptions are the
documentation of every default), so the doc can never drift from the code.

    python tools/settings_doc.py            # rewrite the doc
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

from cdiscmap.adam.settings import AdamSettings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "adam-settings.md"
FILES = {name: f"adam/{name}.yaml"
         for name in ("adsl", "adrs", "adtte", "adae", "adex", "adtr", "adqs")}


def _models(annotation: object) -> list[type[BaseModel]]:
    """Models nested in a field's type (directly, in lists/dicts or unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out += _models(arg)
    return out


def _type_name(annotation: object) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    text = str(annotation).replace("typing.", "")
    for mod in ("cdiscmap.adam.settings.",):
        text = text.replace(mod, "")
    return text if not isinstance(annotation, types.UnionType) else text


def _default(field: object) -> str:
    value = field.default  # type: ignore[attr-defined]
    if value is PydanticUndefined:
        factory = field.default_factory  # type: ignore[attr-defined]
        if factory is None:
            return "(required)"
        value = factory()
    if isinstance(value, BaseModel):
        return "(see below)"
    # In full, as YAML flow text (JSON is YAML); entries of a list of settings show the keys
    # that differ from their own defaults, which the entry's section lists.
    return json.dumps(_plain(value), ensure_ascii=False)


def _plain(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return to_jsonable_python(value)


def _section(model: type[BaseModel], title: str, seen: set[type], out: list[str]) -> None:
    if model in seen:
        return
    seen.add(model)
    doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
    out += [f"\n## {title}\n", f"{doc}\n\n" if doc else "\n",
            "| key | type | default | meaning |\n|---|---|---|---|\n"]
    nested: list[tuple[type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        desc = (field.description or "").replace("|", "\\|").replace("\n", " ")
        kind = _type_name(field.annotation).replace("|", "\\|")
        default = _default(field).replace("|", "\\|")
        out.append(f"| `{key}` | {kind} | `{default}` | {desc} |\n")
        nested += [(m, f"{title} › {key}") for m in _models(field.annotation)]
    for sub, sub_title in nested:
        _section(sub, sub_title, seen, out)


def render() -> str:
    out = ["# ADaM settings (generated from src/cdiscmap/adam/settings.py)\n\n",
           "Each study sets these in `mappings/<study>/adam/adsl.yaml`, `adrs.yaml`, "
           "`adtte.yaml`, `adae.yaml`, `adex.yaml`, `adtr.yaml` and `adqs.yaml`; a key left out "
           "takes the "
           "default shown. Defaults follow the "
           "admiral/admiralonco conventions; where cdiscmap differs the meaning column says why. "
           "Defaults are written as YAML flow text; an entry of a default list shows only the "
           "keys that differ from the defaults of its own section. "
           "Regenerate with `python tools/settings_doc.py`.\n"]
    seen: set[type] = set()
    for name, field in AdamSettings.model_fields.items():
        for model in _models(field.annotation):
            _section(model, f"{FILES.get(name, name)}", seen, out)
    return "".join(out)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
