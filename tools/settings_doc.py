"""Write docs/adam-settings.md from the ADaM settings models (their field descriptions are the
documentation of every default), so the doc can never drift from the code.

    python tools/settings_doc.py            # rewrite the doc
"""

from __future__ import annotations

import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from cdiscmap.adam.settings import AdamSettings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "adam-settings.md"
FILES = {"adsl": "adam/adsl.yaml", "adrs": "adam/adrs.yaml", "adtte": "adam/adtte.yaml"}


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
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
        out.append(f"| `{key}` | {kind} | `{_default(field)}` | {desc} |\n")
        nested += [(m, f"{title} › {key}") for m in _models(field.annotation)]
    for sub, sub_title in nested:
        _section(sub, sub_title, seen, out)


def render() -> str:
    out = ["# ADaM settings (generated from src/cdiscmap/adam/settings.py)\n\n",
           "Each study sets these in `mappings/<study>/adam/adsl.yaml`, `adrs.yaml` and "
           "`adtte.yaml`; a key left out takes the default shown. Defaults follow the "
           "admiral/admiralonco conventions; where cdiscmap differs the meaning column says why. "
           "Regenerate with `python tools/settings_doc.py`.\n"]
    seen: set[type] = set()
    for name, field in AdamSettings.model_fields.items():
        for model in _models(field.annotation):
            _section(model, f"{FILES.get(name, name)}", seen, out)
    return "".join(out)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
