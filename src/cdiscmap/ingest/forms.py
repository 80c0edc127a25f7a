"""Form-level rules and source profiles: an export's conventions declared once, not per block.

A commercial EDC export repeats the same conventions in every form (soft-deleted records, date
families, audit columns, visit-numbering keys). Written per block, one forgotten filter is a
silent duplicate record; so they are declared per form (study.yaml ``forms``), study-wide
(``form_defaults``) or in a named *source profile* shipped as YAML data in
``cdiscmap/ingest/profiles/<name>.yaml``, and applied once, right after a form is read.

Precedence, key by key: a key written on the form wins over ``form_defaults``, which wins
over the profile; a key replaces the less specific one whole (lists and mappings are not
merged), and ``key: null`` on the form switches a default off (the key's own default:
no keys, no filters, no date families). The merge happens on the parsed YAML
before validation, so the merged form is checked by the same pydantic model as a written one
and errors keep the study.yaml line of the form.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pandas as pd

from cdiscmap.errors import InputDataError, SpecError
from cdiscmap.findings import Findings, Severity
from cdiscmap.ingest.readers import RawForm
from cdiscmap.spec.models import (
    DomainSpec,
    FormDefaults,
    FormSpec,
    SourceProfile,
    StudySpec,
)
from cdiscmap.spec.yamlload import LocatedYaml, parse_yaml_text, validate_located

PROFILE_PACKAGE = "cdiscmap.ingest"
PROFILE_FOLDER = "profiles"
_PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
# keys a profile or form_defaults may give a form (FormDefaults' fields), in model order
DEFAULT_KEYS = tuple(FormDefaults.model_fields)
UNMAPPED_REASON = "not mapped (no block reads form {form})"


# --------------------------------------------------------------------------- profiles

def profile_names() -> list[str]:
    """Names of the profiles shipped with the package."""
    folder = resources.files(PROFILE_PACKAGE) / PROFILE_FOLDER
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir()
                  if p.name.endswith(".yaml"))


def load_profile(name: str) -> tuple[SourceProfile, LocatedYaml]:
    """A shipped profile, validated like a spec (unknown keys refused, file:line errors).

    KeyError when no profile has that name (the caller knows the study.yaml line)."""
    if not _PROFILE_NAME.fullmatch(name) or name not in profile_names():
        raise KeyError(name)
    resource = resources.files(PROFILE_PACKAGE) / PROFILE_FOLDER / f"{name}.yaml"
    located = parse_yaml_text(resource.read_text(encoding="utf-8"),
                              f"cdiscmap/ingest/profiles/{name}.yaml")
    return validate_located(located, SourceProfile), located


def apply_profile(located: LocatedYaml) -> tuple[LocatedYaml, dict[str, dict[str, str]]]:
    """study.yaml with its profile and ``form_defaults`` merged into every form.

    Returns the merged YAML (same file and lines: a merged key has no line of its own, so an
    error in it names the form's line) and, per form, where each form-level key came from
    (``file:line``), for messages about a rule the form did not write itself.
    """
    data = located.data
    if not isinstance(data, dict) or not isinstance(data.get("forms"), dict):
        return located, {}
    layers: list[tuple[dict[str, Any], LocatedYaml, tuple[str | int, ...]]] = []
    name = data.get("profile")
    if isinstance(name, str):
        try:
            _, profile_yaml = load_profile(name)
        except KeyError:
            raise SpecError(f"unknown source profile '{name}' (profiles: "
                            f"{', '.join(profile_names())})", located.file,
                            located.line_of(("profile",)), "profile") from None
        layers.append((profile_yaml.data.get("form_defaults") or {}, profile_yaml,
                       ("form_defaults",)))
    defaults = data.get("form_defaults")
    if isinstance(defaults, dict):
        layers.append((defaults, located, ("form_defaults",)))
    # only the forms' own mappings change below: copied one level deep, not the whole study
    # (a deep copy of study.yaml's data was ~5 ms of each of a run's two loads)
    merged = {**data, "forms": {form: dict(written) if isinstance(written, dict) else written
                                for form, written in data["forms"].items()}}
    sources: dict[str, dict[str, str]] = {}
    for form, written in data["forms"].items():
        if not isinstance(written, dict):
            continue
        origin: dict[str, str] = {}
        for key in DEFAULT_KEYS:
            if key in written:
                origin[key] = f"{located.file}:{located.line_of(('forms', form, key))}"
                if written[key] is None:        # `key: null`: no default, the model's own
                    del merged["forms"][form][key]
                continue
            for values, where, base in reversed(layers):     # most specific layer first
                if key in values:
                    merged["forms"][form][key] = copy.deepcopy(values[key])
                    origin[key] = f"{where.file}:{where.line_of((*base, key))}"
                    break
        sources[str(form)] = origin
    return LocatedYaml(data=merged, file=located.file, lines=located.lines), sources


# --------------------------------------------------------------------------- form rules

@dataclass
class RuledForm:
    """A form after its rules: the frame blocks read, the rows the rules dropped, the imputed
    date columns refused (column → its date item)."""

    form: RawForm
    drops: list[tuple[pd.Series, str]] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def apply_form_rules(form: RawForm, spec: FormSpec, study: StudySpec, findings: Findings,
                     origin: dict[str, str]) -> RuledForm:
    """Columns dropped and renamed, rows filtered (drops returned for the accounting), imputed
    dates refused; ``origin`` (key → file:line) names where a rule was declared."""
    from cdiscmap.sdtm.vocabulary import BlockFrame, MapContext, evaluate_condition, take_rows

    frame = form.frame
    if spec.drop_columns:
        frame = _without(frame, [c for c in spec.drop_columns if c in frame.columns])
    if spec.rename:
        renames = {old: new for old, new in spec.rename.items() if old in frame.columns}
        clash = sorted(set(renames.values()) & (set(frame.columns) - set(renames)))
        if clash:
            raise InputDataError(f"{form.file}: rename (form '{form.name}', "
                                 f"{origin.get('rename', 'study.yaml')}) gives column "
                                 f"{clash[0]!r} a name the form already has")
        frame = frame.copy(deep=False)        # as rename(columns=...), the arrays not copied
        frame.columns = [renames.get(c, c) for c in frame.columns]
    out = RuledForm(form)
    for i, flt in enumerate(spec.filters or []):
        where = origin.get("filters", "study.yaml")
        missing = sorted(_condition_columns(flt.drop_if) - set(frame.columns))
        if missing:
            raise InputDataError(f"{form.file}: form filter '{flt.reason}' ({where}, form "
                                 f"'{form.name}') tests column {missing[0]!r}, which the form "
                                 "does not have; override 'filters' on the form")
        ctx = MapContext(study=study, codelist_terms={}, findings=findings,
                         domain=f"forms.{form.name}", where=where, variable=f"filters[{i}]")
        block = BlockFrame(raw=frame, out=pd.DataFrame(index=frame.index), form=form.name,
                           file=form.file, clean=True)     # read_form's text
        mask = evaluate_condition(ctx, block, flt.drop_if)
        if mask.any():
            out.drops.append((frame.loc[mask, "_SRCROW"], flt.reason))
            # ``frame.loc[~mask]``, the text columns' factorisations taken along
            frame = take_rows(frame, ~mask.to_numpy(dtype=bool), carry=True)
    # numbered 0..n-1 as reset_index(drop=True) numbers it, but a shallow copy: the columns
    # are read_form's (or the filter's) own arrays, not copied, so they keep their remembered
    # factorisations (sdtm/vectorize.py: hashed once a run); the frame before is dropped
    frame = frame.copy(deep=False)
    frame.index = pd.RangeIndex(len(frame))
    if spec.date_families is not None:
        frame = _date_families(form, frame, spec, findings, out, origin)
    out.form = RawForm(name=form.name, file=form.file, path=form.path, frame=frame,
                       dropped=form.dropped)
    return out


def _condition_columns(cond: Any) -> set[str]:
    found = {cond.column} if cond.column else set()
    for sub in (cond.all or []) + (cond.any or []) + ([cond.not_] if cond.not_ else []):
        found |= _condition_columns(sub)
    return found


def date_family_stems(columns: list[str], spec: FormSpec) -> dict[str, dict[str, str]]:
    """Date items of a form: NAME → {role: column} for every declared suffix NAME has.

    A column is a date item when it has at least one declared family member (NAME_INT,
    NAME_RAW, ...), so an ordinary column ending in a suffix is not mistaken for one."""
    fam = spec.date_families
    if fam is None:
        return {}
    present = set(columns)
    roles = {role: suffix for role, suffix in fam.suffixes.model_dump().items() if suffix}
    stems: dict[str, dict[str, str]] = {}
    for col in columns:
        if col.startswith("_"):
            continue
        members = {role: col + suffix for role, suffix in roles.items()
                   if col + suffix in present}
        if members:
            stems[col] = members
    return stems


def _date_families(form: RawForm, frame: pd.DataFrame, spec: FormSpec, findings: Findings,
                   out: RuledForm, origin: dict[str, str]) -> pd.DataFrame:
    """``imputed: refuse``: each NAME_INT column leaves the form; a row whose NAME is blank
    while NAME_INT holds a date is a finding (the EDC imputed a partial entry)."""
    fam = spec.date_families
    assert fam is not None
    if fam.imputed != "refuse":
        return frame
    subject = spec.subject_column
    for stem, members in date_family_stems(list(frame.columns), spec).items():
        imputed = members.get("imputed")
        if imputed is None:
            continue
        out.refused[imputed] = stem
        hit = frame[stem].isna() & frame[imputed].notna()
        if not hit.any():
            continue
        rows = frame.loc[hit]
        value = imputed + "=" + rows[imputed].astype("string")
        typed = members.get("raw")
        if typed is not None:
            value = value + ", " + typed + "=" + rows[typed].astype("string").fillna("")
        findings.add_frame(
            pd.DataFrame({"u": rows.get(subject, ""),
                          "v": value,
                          "s": form.file + " row " + rows["_SRCROW"].astype("string")}),
            rule="CMAP-RAW0004", severity=Severity.WARNING,
            message=f"{stem} is blank but the EDC imputed {imputed}; imputed dates are "
                    f"refused (date_families imputed: refuse, {origin.get('date_families')}): "
                    f"map the collected parts or typed text",
            dataset=form.name, variable=stem, usubjid_col="u", value_col="v", source_col="s")
    return _without(frame, list(out.refused))


def _without(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame.drop(columns=columns)`` without copying the columns kept: they stay read_form's
    arrays, so their remembered factorisations (sdtm/vectorize.py codes_cache) stay found."""
    out = frame.copy(deep=False)
    for name in columns:
        del out[name]
    return out


# --------------------------------------------------------------------------- spec references

_TEXT_KEYS = {"name", "reason", "comment", "label", "description", "constant", "value"}


def refused_references(data: Any, refused: dict[str, str],
                       path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], str]]:
    """Places in a domain spec's YAML (``path``, column) that name a refused imputed column:
    as a column name anywhere, or as a name inside an ``expr``."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    if not refused:
        return found
    if isinstance(data, dict):
        for key, value in data.items():
            if key in _TEXT_KEYS and not isinstance(value, dict | list):
                continue    # free text or a literal (a SUPP `value:` is a variable: walked)
            if key == "expr" and isinstance(value, str):
                found += [((*path, key), col) for col in refused
                          if re.search(rf"(?<![\w]){re.escape(col)}(?![\w])", value)]
            else:
                found += refused_references(value, refused, (*path, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found += refused_references(item, refused, (*path, i))
    elif isinstance(data, str) and data in refused:
        found.append((path, data))
    return found


def _family_uses(spec: Any) -> list[str]:
    """The date items an ``iso8601: {family: NAME}`` names in a variable (``when`` included)."""
    found = [spec.iso8601.family] if spec.iso8601 is not None and spec.iso8601.family else []
    for branch in spec.when or []:
        for sub in (branch.then, branch.else_):
            if sub is not None:
                found += _family_uses(sub)
    return found


def check_family_forms(domain: DomainSpec, dy: LocatedYaml, study: StudySpec) -> None:
    """``iso8601: {family: NAME}`` needs its form to declare date_families with a format:
    checked when the spec is loaded, so check-spec names the line without data."""
    shared = [(("variables", n), v) for n, v in domain.variables.items()]
    for i, block in enumerate(domain.blocks):
        form = study.forms[block.source.form]
        family = form.date_families
        if family is not None and family.format is not None:
            continue
        own = [(("blocks", i, "variables", n), v) for n, v in block.variables.items()]
        for path, var in own + shared:
            for name in _family_uses(var):
                raise SpecError(f"iso8601 family {name!r}: form '{block.source.form}' (block "
                                f"'{block.name}') declares no date_families with a format "
                                "(study.yaml forms, form_defaults or the profile)", dy.file,
                                dy.line_of(path), str(path[-1]))
