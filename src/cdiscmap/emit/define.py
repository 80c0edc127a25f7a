"""Define-XML 2.1 and define.html, generated from the metadata that built the data.

Nothing here is typed per study: datasets, variables, labels, keys, roles and codelists come
from ``specs/`` (:mod:`cdiscmap.standards`), origins, methods, comments and value-level
metadata from the study's mapping specs (:class:`~cdiscmap.spec.loader.LoadedStudy`, the SDTM
engine's ``origins`` and the ADaM step's ``methods``), and lengths, data types and used terms
from the frames that were written to XPT. ``docs/define.md`` explains how each element is
derived; the main rules, once:

- ItemDef Length is the XPT length (:func:`cdiscmap.emit.xpt.xpt_lengths`) for text, integer
  and float, and is left out for the ISO 8601 data types (Define-XML 2.1, ItemDef Length;
  Pinnacle 21 rule DD0068). Numbers are integer when every value is whole, else float with
  SignificantDigits = the most decimals in the data. ADaM numeric dates are integer with their
  SAS display format (DATE9.).
- Codelists: every term of a non-extensible list; only the terms used in the data of an
  extensible one (Define-XML practice), in CT order, sponsor extensions marked
  def:ExtendedValue. NCI codes as ``Alias Context="nci:ExtCodeID"``. MedDRA / ISO 3166 are
  ExternalCodeLists.
- Output is byte-identical for identical inputs: ``created`` comes from the caller, every
  free order is sorted, no identifiers are random.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from lxml import etree

from cdiscmap import __version__
from cdiscmap.checks.facts import TextFacts, text_facts
from cdiscmap.emit.atomic import atomic_write_bytes
from cdiscmap.emit.attributes import dataset_label, metadata_for, ordered_columns
from cdiscmap.emit.define_model import (
    CodeList,
    Comment,
    DefineModel,
    ItemDef,
    ItemGroup,
    ItemRef,
    Method,
    Origin,
    RangeCheck,
    StandardRef,
    Term,
    ValueList,
    WhereClause,
)
from cdiscmap.emit.oids import metadata_version_oid, study_oid
from cdiscmap.emit.written import forget as forget_written
from cdiscmap.emit.written import recall_lengths, recall_text_facts, series_by_name
from cdiscmap.emit.xpt import NUM_BYTES, XptColumn, xpt_lengths
from cdiscmap.errors import OutputError, SpecError, StandardsError, display_path
from cdiscmap.spec.loader import LoadedStudy
from cdiscmap.spec.models import Condition, Operand, ValueLevelSpec, VariableSpec
from cdiscmap.standards.models import Codelist, Dataset, Standards, Variable

__all__ = [
    "arm_schema",
    "arm_xsd_path",
    "build_define",
    "define_schema_errors",
    "define_stylesheet_path",
    "define_xsd_path",
    "faster_stylesheet",
    "iso8601_data_type",
    "max_decimals",
    "numeric_data_type",
    "render_define_html",
    "render_define_tree",
    "render_define_xml",
    "write_define",
    "written_define_tree",
]

Kind = Literal["SDTM", "ADaM"]

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
NCI_ALIAS = "nci:ExtCodeID"
DEFINE_VERSION = "2.1.0"

# Define-XML 2.1, ItemDef DataType: ISO 8601 values are described by these types, which carry no
# Length (Pinnacle 21 DD0068); text/integer/float carry the XPT length.
ISO8601_TYPES = frozenset({"date", "datetime", "time", "partialDate", "partialTime",
                           "partialDatetime", "incompleteDatetime", "durationDatetime",
                           "intervalDatetime"})
_DATE = r"\d{4}-\d{2}-\d{2}"
_COMPLETE_DATETIME = _DATE + r"T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
# A line (one distinct value) that is not of the shape: the values joined by line breaks are
# asked each question in one scan (see _iso8601_type).
_NOT_DURATION = re.compile(r"^(?!P)", re.MULTILINE)
# Every line of the shape: one anchored pass (fullmatch), not a search that tries a lookahead
# at every character ("^(?!X$)" under MULTILINE): 10,000 distinct complete datetimes 2.3 ->
# 1.8 ms, dates 0.32 -> 0.2 ms.
_ALL_DATES = re.compile(rf"(?:{_DATE}\n)*{_DATE}")
_ALL_COMPLETE_DATETIMES = re.compile(rf"(?:{_COMPLETE_DATETIME}\n)*{_COMPLETE_DATETIME}")
_NOT_INTEGER = re.compile(r"^(?![+-]?\d+$)", re.MULTILINE)
_NOT_DECIMAL = re.compile(r"^(?![+-]?(?:\d+\.?\d*|\.\d+)$)", re.MULTILINE)

# Classes in the order define.html lists datasets: SDTMIG 3.4 chapter order (§5 special purpose,
# §6 general observation classes, §7 trial design, §8 relationships); ADSL before BDS/OCCDS.
_CLASS_ORDER = ("SPECIAL PURPOSE", "INTERVENTIONS", "EVENTS", "FINDINGS", "FINDINGS ABOUT",
                "TRIAL DESIGN", "STUDY REFERENCE", "RELATIONSHIP",
                "SUBJECT LEVEL ANALYSIS DATASET", "OCCURRENCE DATA STRUCTURE",
                "BASIC DATA STRUCTURE", "ADAM OTHER")

# IG sections that define what an algorithm computes (cited in MethodDef text).
_ALGORITHM_REFERENCE = {
    "study_day": "SDTMIG 3.4 §4.4.4",
    "epoch": "SDTMIG 3.4 §4.1.3.1",
}

# SUPPQUAL QORIG values (SDTMIG 3.4 §8.4) → Define-XML 2.1 origin.
_QORIG_ORIGIN = {"CRF": Origin("Collected", "Investigator"), "ASSIGNED": Origin("Assigned"),
                 "DERIVED": Origin("Derived"), "PROTOCOL": Origin("Protocol"),
                 "EDT": Origin("Collected", "Vendor")}

# An ADaM method text that only names its source ("DM.ARM") means the value is copied.
_PREDECESSOR_TEXT = re.compile(r"[A-Z][A-Z0-9]{0,7}\.[A-Z][A-Z0-9_]{0,7}")
# ADaM variables computed on each parameter's records, described per PARAMCD.
_ADAM_VALUE_LEVEL = ("AVALC", "AVAL", "CNSR")


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def write_define(folder: Path, *, kind: Kind, datasets: dict[str, pd.DataFrame],
                 standards: Standards, study: LoadedStudy,
                 origins: dict[str, dict[str, dict[str, str]]],
                 methods: dict[str, dict[str, str]],
                 created: datetime,
                 lengths: Mapping[str, Mapping[str, int]] | None = None,
                 html: bool = True) -> tuple[Path, ...]:
    """Write ``define.xml`` and ``define.html`` for the datasets written to ``folder``.

    The define is built, checked against the Define-XML 2.1 schema and transformed to HTML in
    memory first; both files are then written atomically (temporary name, then rename).
    ``lengths`` (dataset → variable → XPT length, e.g. ``XptPlan.lengths`` of the files just
    written) saves sizing the text columns again. ``html=False`` writes define.xml alone, for
    a caller that adds to it and renders define.html itself (the stylesheet takes a fifth of a
    second per define: ``cdiscmap.analysis.arm.write_analysis_results(..., html=True)``).
    """
    model = build_define(kind=kind, datasets=datasets, standards=standards, study=study,
                         origins=origins, methods=methods, created=created, lengths=lengths)
    forget_written(datasets.values())     # the writer's factorisations have served
    # the tree the bytes were serialised from serves the schema and the stylesheet (it lacks
    # only the indentation's blank text, which neither reads: the same HTML, tested), instead
    # of parsing the bytes again (≈ 8 ms for the SDTM define at 1,000 subjects)
    xml, document = _Renderer(model).render_with_tree()
    problems = _schema_errors(document)
    if problems:                            # the file's line numbers in the message
        problems = _schema_errors(etree.fromstring(xml))
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:20])
        raise OutputError(f"define.xml for {kind} does not validate against the Define-XML 2.1 "
                          f"schema ({len(problems)} problems); nothing written:\n{shown}")
    page = _html(document) if html else None
    if not html and kind == "ADaM":
        # the caller adds Analysis Results Metadata next and validates it against the ARM
        # schema (0.17 CPU-s to compile): compiled now, while the report it waits for is
        # still being made (cdiscmap run), not after
        arm_schema()
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"could not create {display_path(folder)}: "
                          f"{exc.strerror or exc}") from exc
    xml_path, html_path = folder / "define.xml", folder / "define.html"
    _write_atomic(xml_path, xml)
    if page is None:
        if kind == "ADaM":
            _keep_tree(xml_path, xml, document)
        return (xml_path,)
    _write_atomic(html_path, page)
    return xml_path, html_path


def build_define(*, kind: Kind, datasets: Mapping[str, pd.DataFrame], standards: Standards,
                 study: LoadedStudy, origins: Mapping[str, Mapping[str, Mapping[str, str]]],
                 methods: Mapping[str, Mapping[str, str]], created: datetime,
                 lengths: Mapping[str, Mapping[str, int]] | None = None) -> DefineModel:
    """Assemble the define's metadata (no XML yet): see the module docstring for the rules.
    ``lengths``: XPT lengths already known per dataset (see :func:`write_define`)."""
    if kind not in ("SDTM", "ADaM"):
        raise ValueError(f"kind must be 'SDTM' or 'ADaM', not {kind!r}")
    return _Builder(kind, datasets, standards, study, origins, methods, lengths).build(created)


# The ADaM define.xml last written without its define.html (the caller adds ARM to it next,
# cdiscmap.analysis.arm): its path, bytes and the tree they were serialised from.
_KEPT: dict[str, tuple[bytes, etree._Element]] = {}


def _keep_tree(path: Path, xml: bytes, document: etree._Element) -> None:
    _KEPT.clear()                       # one define at a time: the next caller's
    _KEPT[os.path.abspath(path)] = (xml, document)


def written_define_tree(path: Path, xml: bytes) -> etree._Element | None:
    """The element tree ``write_define(..., html=False)`` serialised to ``path``, handed over
    once (the caller may change it), when ``xml`` (the file's bytes now) is what it wrote;
    else None.

    Why: the tail of ``cdiscmap run`` (only the parent busy, after the report arrived) adds
    ARM to the ADaM define.xml; taking this tree saves parsing the file back (≈ 3 CPU-ms of
    its ≈ 40 at 100 and 1,000 subjects). The tree lacks the indentation's blank text, as a
    parse with ``remove_blank_text`` does; nothing reads it (schema, stylesheet: tested)."""
    kept = _KEPT.pop(os.path.abspath(path), None)
    if kept is None or kept[0] != xml:
        return None
    return kept[1]


def render_define_xml(model: DefineModel) -> bytes:
    """The define.xml bytes (UTF-8, indented) of an assembled model."""
    return _Renderer(model).render()


def render_define_html(xml: bytes) -> bytes:
    """define.html: the define.xml transformed by the CDISC define2-1.xsl stylesheet."""
    return _html(etree.fromstring(xml))


def render_define_tree(document: etree._Element) -> bytes:
    """:func:`render_define_html` of a define.xml already parsed (or built: the blank text of
    the file's indentation makes no difference to the HTML)."""
    return _html(document)


def _html(document: etree._Element) -> bytes:
    """:func:`render_define_html` of a parsed define.xml."""
    transform = _stylesheet()
    try:
        result = transform(document)
    except etree.XSLTApplyError as exc:
        raise OutputError(f"define.html: the stylesheet failed: {exc}") from exc
    return bytes(result)


def define_schema_errors(xml: bytes) -> list[str]:
    """Every Define-XML 2.1 schema violation of a define.xml ("line N: message"); [] if valid."""
    return _schema_errors(etree.fromstring(xml))


def _schema_errors(document: etree._Element) -> list[str]:
    """:func:`define_schema_errors` of a parsed define.xml."""
    schema = _schema()
    if schema.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def define_xsd_path() -> Path:
    """The Define-XML 2.1 XSD shipped with defineutils."""
    return _defineutils_folder() / "validate" / "schema" / "cdisc-define-2.1" / \
        "define2-1-0.xsd"


def define_stylesheet_path() -> Path:
    """The define2-1.xsl stylesheet shipped with defineutils (Lex Jansen, MIT licence)."""
    return _defineutils_folder() / "definehtml" / "define2-1.xsl"


def arm_xsd_path() -> Path:
    """The ARM 1.0 schema (over Define-XML 2.1) shipped with defineutils."""
    # <defineutils>/validate/schema/cdisc-define-2.1/define2-1-0.xsd → its sibling folder
    return define_xsd_path().parent.parent / "cdisc-arm-1.0" / "arm1-0-0.xsd"


@lru_cache(maxsize=1)
def arm_schema() -> etree.XMLSchema:
    """The compiled ARM schema, once per process (``analysis.arm`` validates with it)."""
    return etree.XMLSchema(etree.parse(str(arm_xsd_path())))


@lru_cache(maxsize=1)
def _defineutils_folder() -> Path:
    """Where the defineutils package lies, found without importing it: only its data files
    are used, and importing it imports xmlschema (about a CPU second)."""
    spec = importlib.util.find_spec("defineutils")
    if spec is None or not spec.submodule_search_locations:
        return Path(str(resources.files("defineutils")))   # raises the usual import error
    return Path(next(iter(spec.submodule_search_locations)))


# --------------------------------------------------------------------------------------------
# Data profiling (vectorised): what the written values say about a variable
# --------------------------------------------------------------------------------------------

def max_decimals(values: np.ndarray) -> int:
    """Most decimal places any finite value needs (0 for whole numbers; at most 15).

    A value needs d places when rounding it to d places changes it by no more than float64
    noise (relative 1e-12), so 0.1 + 0.2 needs 1, not 17.
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0
    tolerance = 1e-12 * np.abs(finite)
    for places in range(16):
        if bool(np.all(np.abs(np.round(finite, places) - finite) <= tolerance)):
            return places
    return 15


def numeric_data_type(values: np.ndarray) -> Literal["integer", "float"]:
    """integer when every present value is whole (also when none is present), else float."""
    numbers = np.asarray(values, dtype=np.float64)
    # asked of every record without gathering the present values first (a 700,000-record LB
    # has one column per question), in three passes: a value is whole when nothing is left
    # above its floor (IEEE subtraction gives 0 only for equal operands); NaN (missing, not
    # counted) and infinities leave NaN there, which is not above 0
    fraction = np.floor(numbers)
    with np.errstate(invalid="ignore"):     # inf - inf: NaN, as said
        np.subtract(numbers, fraction, out=fraction)
    return "float" if bool((fraction > 0).any()) else "integer"


def iso8601_data_type(values: pd.Series, *, duration: bool = False) -> str:
    """The Define-XML 2.1 ISO 8601 data type that describes every value of a --DTC/--DUR.

    date / datetime only when every value is complete (a datetime to the second);
    partialDate / partialDatetime when some are truncated; incompleteDatetime when a middle
    component is missing ("2014---05"); intervalDatetime / durationDatetime for intervals and
    durations. A variable with no value is "datetime" ("durationDatetime" for durations).
    """
    present = values.dropna().astype("string")
    text = pd.Series(present.unique(), dtype="string").str.strip()
    return _iso8601_type(text[text != ""].tolist(), duration=duration)


def _iso8601_type(values: list[str], *, duration: bool = False) -> str:
    """:func:`iso8601_data_type` of the distinct present values, stripped.

    The values are joined into one text, one per line, and each question is one regular
    expression scan of that text (line by line under MULTILINE), so a column with a hundred
    thousand distinct datetimes costs a few scans in C, not a Python call per value. A value
    holding a line break (not ISO 8601 anyway) goes the per-value way."""
    if not values:
        return "durationDatetime" if duration else "datetime"
    joined = "\n".join(values)
    if joined.count("\n") != len(values) - 1:
        return _iso8601_type_by_value(pd.Series(values, dtype="string"), duration=duration)
    if "/" in joined:
        return "intervalDatetime"
    if _NOT_DURATION.search(joined) is None:
        return "durationDatetime"
    # a line starting with "-": a substring search in C (the regular expression "^-" tried
    # every character: 10,000 distinct datetimes 0.66 -> 0.14 ms)
    if "--" in joined or joined.startswith("-") or "\n-" in joined:
        return "incompleteDatetime"
    if "T" not in joined:
        return "date" if _ALL_DATES.fullmatch(joined) is not None else "partialDate"
    if _ALL_COMPLETE_DATETIMES.fullmatch(joined) is not None:
        return "datetime"
    return "partialDatetime"


def _iso8601_type_by_value(text: pd.Series, *, duration: bool = False) -> str:
    """:func:`_iso8601_type` asked of each value ("string" Series, stripped, none blank)."""
    if text.empty:
        return "durationDatetime" if duration else "datetime"
    if text.str.contains("/", regex=False).any():
        return "intervalDatetime"
    if text.str.startswith("P").all():
        return "durationDatetime"
    if (text.str.contains("--", regex=False) | text.str.startswith("-")).any():
        return "incompleteDatetime"
    has_time = text.str.contains("T", regex=False)
    if not has_time.any():
        return "date" if text.str.fullmatch(_DATE).all() else "partialDate"
    if text.str.fullmatch(_COMPLETE_DATETIME).all():
        return "datetime"
    return "partialDatetime"


def _present_text(series: pd.Series) -> pd.Series:
    """The distinct non-blank values (every caller aggregates: max, all, any, set), so a
    million-row column is looked at through its few thousand distinct values."""
    present = series.dropna()
    if present.dtype.kind in "fiuM":
        present = present.astype("string")
    text = pd.Series(present.unique(), dtype="string")
    return text[text.str.strip() != ""].reset_index(drop=True)


def _no_number(series: pd.Series) -> bool:
    """Whether a numeric, boolean or datetime column holds no value. On a numpy dtype this is
    one scan of its array (pandas' notna().any() builds two Series and takes ten times as
    long; a define asks it of every such column); pandas' own dtypes (Int64, boolean) ask
    pandas."""
    dtype = series.dtype
    if not isinstance(dtype, np.dtype):
        return not bool(series.notna().any())
    if dtype.kind in "iub":                 # no missing value in these numpy dtypes
        return len(series) == 0
    values = series.to_numpy()
    missing = np.isnat if dtype.kind == "M" else np.isnan
    if len(values) and not missing(values[0]):
        return False                        # most columns: settled by their first value
    return bool(missing(values).all())


class _Values:
    """A variable's values on all records or on those a where-clause selects.

    Every question define.xml asks of values (any present? which terms? longest? dates to
    which precision?) depends on the distinct values only, so a text column is looked at
    through its :class:`~cdiscmap.checks.facts.TextFacts` (factorised once per column, subsets
    taken through the codes); other columns keep their rows (numbers are cheap to scan).
    """

    def __init__(self, series: pd.Series, facts: TextFacts | None) -> None:
        self.series = series            # with facts: the whole column (its dtype is used)
        self.facts = facts

    @property
    def kind(self) -> str:
        return self.series.dtype.kind

    @cached_property
    def present(self) -> pd.Series:
        """The distinct non-blank values (see :func:`_present_text`)."""
        return self.facts.present if self.facts is not None else _present_text(self.series)

    @property
    def empty(self) -> bool:
        if self.facts is None and self.kind in "fiubM":   # a number is never blank text
            return _no_number(self.series)
        if self.facts is not None and "present" not in self.__dict__:
            # stops at the first value that is not blank (usually the first)
            return not any(map(str.strip, self.facts.uniques))
        return self.present.empty

    def stripped(self) -> list[str]:
        """The distinct non-blank values, stripped (duplicates after stripping kept)."""
        if self.facts is not None and "present" not in self.__dict__:
            return list(filter(None, map(str.strip, self.facts.uniques)))
        return self.present.str.strip().tolist()

    @cached_property
    def used(self) -> set[str]:
        """The distinct non-blank values, stripped."""
        if self.facts is not None:
            if "present" in self.__dict__ or "used" in self.facts.__dict__:
                return self.facts.used
            return set(filter(None, map(str.strip, self.facts.uniques)))
        return set(self.present.str.strip().unique().tolist())

    def number_type(self) -> Literal["integer", "float"]:
        """:func:`numeric_data_type` of the values; integers and booleans are whole without
        a look at them."""
        if self.kind in "iub":
            return "integer"
        return numeric_data_type(self.floats())

    def floats(self) -> np.ndarray:
        """Every record's value as float64 (NaN for missing): the whole-number question is
        one vectorised pass over them, cheaper than hashing them (a 10,000-subject LB has
        700,000 records, its --SEQ as many distinct values)."""
        return self.series.to_numpy(dtype=np.float64, na_value=np.nan)

    def numbers(self) -> np.ndarray:
        """The distinct values as float64 (NaN for missing): decimal places are asked of
        each distinct value (up to 16 rounding passes)."""
        return pd.unique(self.floats())

    def subset(self, rows: np.ndarray) -> _Values:
        """The values on the selected records (a boolean mask over the column's rows, or
        their positions in ascending order)."""
        if self.facts is not None:
            return _Values(self.series, self.facts.subset(rows))
        return _Values(self.series.iloc[rows], None)

    def first(self) -> str | None:
        """The first present value in record order."""
        return str(self.present.iloc[0]) if not self.present.empty else None


def _text_length(values: _Values) -> int:
    """Longest present value in UTF-8 bytes (at least 1), as the XPT writer sizes text."""
    if values.facts is not None:
        facts = values.facts
        lengths = facts.byte_lengths[facts.nonblank]
        return max(1, int(lengths.max())) if len(lengths) else 1
    text = values.present
    if text.empty:
        return 1
    return max(1, int(text.str.encode("utf-8").str.len().max()))


def _text_decimals(values: _Values) -> int:
    """Most digits after the decimal point among numbers written as text."""
    places = values.present.str.extract(r"\.(\d+)\s*$", expand=False).str.len()
    return int(places.max()) if places.notna().any() else 0


def _text_number_type(values: _Values) -> str:
    """integer / float when every present text value is a number of that kind, else text."""
    text = values.stripped()
    if not text:
        return "text"
    joined = "\n".join(text)
    if joined.count("\n") != len(text) - 1:          # a value with a line break: not a number
        return "text"
    if _NOT_INTEGER.search(joined) is None:
        return "integer"
    if _NOT_DECIMAL.search(joined) is None:
        return "float"
    return "text"


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------

@dataclass
class _Variable:
    """One variable's define facts before they become ItemDef + ItemRef."""

    origins: tuple[Origin, ...]
    method: Method | None = None
    comment: str = ""


@dataclass
class _ValueItem:
    """A value-level item before OIDs of its where clause are shared."""

    suffix: str                    # OID suffix after IT.<DS>.<VAR>.
    name: str
    checks: tuple[RangeCheck, ...]
    values: _Values                # the variable's values on the selected records
    data_type: str
    label: str | None = None
    codelist: str | None = None    # codelist short name
    origins: tuple[Origin, ...] = ()
    method: Method | None = None


@dataclass
class _Usage:
    """Values seen per (codelist name, item data type), to list the terms that are used."""

    values: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def add(self, key: tuple[str, str], values: _Values | None) -> None:
        seen = self.values.setdefault(key, set())
        if values is not None:
            seen.update(values.used)


class _Builder:
    """Walks the datasets once, collecting ItemGroups, ItemDefs, value lists, codelists,
    methods and comments; :meth:`build` returns them ordered."""

    def __init__(self, kind: Kind, datasets: Mapping[str, pd.DataFrame], standards: Standards,
                 study: LoadedStudy, origins: Mapping[str, Mapping[str, Mapping[str, str]]],
                 methods: Mapping[str, Mapping[str, str]],
                 lengths: Mapping[str, Mapping[str, int]] | None = None) -> None:
        self.kind = kind
        self.known_lengths = lengths or {}
        self._facts: dict[tuple[str, str], TextFacts | None] = {}
        self._columns: dict[str, dict[str, pd.Series]] = {}
        self.datasets = datasets
        self.standards = standards
        self.study = study
        self.origins = origins
        self.adam_methods = methods
        self.item_defs: list[ItemDef] = []
        self.item_groups: list[ItemGroup] = []
        self.value_lists: list[ValueList] = []
        self.where_clauses: dict[str, WhereClause] = {}
        self.methods: dict[str, Method] = {}
        self.comments: dict[str, Comment] = {}
        self.usage = _Usage()
        self.generated: dict[str, CodeList] = {}     # codelists built from the data (PARAMCD)
        self.notes: list[str] = []

    # ---------------------------------------------------------------- document
    def build(self, created: datetime) -> DefineModel:
        ig = self._ig_standard()
        for name in self._dataset_order():
            self._dataset(name, ig)
        codelists = self._codelists()
        standards = self._standards(ig, codelists)
        spec = self.study.study
        label = "SDTM" if self.kind == "SDTM" else "ADaM"
        return DefineModel(
            file_oid=f"{spec.studyid}.{label}.DEFINE",
            created=created.isoformat(),
            study_oid=study_oid(spec.studyid),
            study_name=spec.studyid,
            study_description=spec.title,
            protocol_name=spec.protocol or spec.studyid,
            mdv_oid=metadata_version_oid(spec.studyid, self.kind, self.standards),
            mdv_name=f"{spec.studyid} {label} define",
            mdv_description=f"{label} datasets of study {spec.studyid} ({ig.name} {ig.version})",
            standards=standards,
            item_groups=tuple(self.item_groups),
            item_defs=tuple(self.item_defs),
            value_lists=tuple(sorted(self.value_lists, key=lambda v: v.oid)),
            where_clauses=tuple(self.where_clauses[k] for k in sorted(self.where_clauses)),
            codelists=codelists,
            methods=tuple(self.methods[k] for k in sorted(self.methods)),
            comments=tuple(self.comments[k] for k in sorted(self.comments)),
            notes=tuple(dict.fromkeys(self.notes)),
        )

    def _ig_standard(self) -> StandardRef:
        family = "SDTMIG" if self.kind == "SDTM" else "ADaMIG"
        version = self.standards.versions.get(family)
        if version is None:
            raise StandardsError(f"specs/ holds no {family} metadata; cannot write the "
                                 f"{self.kind} define.xml")
        self._check_study_version(family.lower(), family, version)
        return StandardRef(oid=f"STD.{family.upper()}.{version}", name=family, type="IG",
                           version=version)

    def _check_study_version(self, key: str, family: str, version: str) -> None:
        """study.yaml names the versions it was built for; a define must not contradict it."""
        declared = self.study.study.standards.get(key)
        if declared is not None and str(declared) != version:
            raise StandardsError(
                f"{self.study.study_file}: standards.{key} is {declared} but specs/ holds "
                f"{family} {version}; the define.xml would state the wrong version")

    def _standards(self, ig: StandardRef, codelists: tuple[CodeList, ...]) -> tuple[
            StandardRef, ...]:
        own = "SDTM CT" if self.kind == "SDTM" else "ADaM CT"
        used = {cl.standard_oid for cl in codelists}
        refs = [ig]
        for family, publishing_set in (("SDTM CT", "SDTM"), ("ADaM CT", "ADaM")):
            version = self.standards.versions.get(family)
            if version is None:
                continue
            ref = _ct_standard(family, publishing_set, version)
            if family == own or ref.oid in used:
                self._check_study_version(family.lower().replace(" ", "_"), family, version)
                refs.append(ref)
        return tuple(refs)

    def _dataset_order(self) -> list[str]:
        def rank(name: str) -> tuple[int, str]:
            cls = metadata_for(self.standards, name).class_name
            order = _CLASS_ORDER.index(cls) if cls in _CLASS_ORDER else len(_CLASS_ORDER)
            return order, name
        return sorted(self.datasets, key=rank)

    # ---------------------------------------------------------------- one dataset
    def _dataset(self, name: str, ig: StandardRef) -> None:
        frame = self.datasets[name]
        meta = metadata_for(self.standards, name)
        columns = ordered_columns(frame, meta)
        lengths = self._lengths(name, frame, columns)
        value_items = self._value_items(name, frame, meta)
        keys = [k for k in meta.keys if k in lengths]
        refs = []
        for order, column in enumerate(columns, start=1):
            var = meta.variable(column.name)
            series = self._values(name, column.name)
            facts = self._variable_facts(name, var, frame)
            items = value_items.get(var.name, [])
            if items and not facts.origins:      # QVAL, TSVAL: origins of their values
                facts.origins = _distinct(o for item in items for o in item.origins)
            item = self._item_def(name, var, column, series, lengths[column.name], facts,
                                  has_value_list=bool(items))
            if items:
                item = replace(item, value_list_oid=f"VL.{name}.{var.name}")
            self.item_defs.append(item)
            if items:
                self._value_list(name, var, items)
            refs.append(ItemRef(
                item_oid=item.oid, order=order, mandatory=var.core == "Req",
                key_sequence=keys.index(var.name) + 1 if var.name in keys else None,
                method_oid=facts.method.oid if facts.method else None,
                role=var.role if self.kind == "SDTM" else None,
                has_no_data=series.empty))
        self.item_groups.append(ItemGroup(
            oid=f"IG.{name}", name=name, label=dataset_label(self.standards, name),
            purpose="Tabulation" if self.kind == "SDTM" else "Analysis",
            repeating=not set(meta.keys) <= {"STUDYID", "USUBJID"},
            structure=meta.structure, class_name=meta.class_name, subclass=meta.subclass,
            standard_oid=ig.oid, leaf_id=f"LF.{name}", href=f"{name.lower()}.xpt",
            items=tuple(refs), domain=_domain_attribute(name) if self.kind == "SDTM" else None))

    # ---------------------------------------------------------------- column facts
    def _series(self, dataset: str, column: str) -> pd.Series:
        """``frame[column]`` of a dataset, from one pass over its columns (see
        :func:`~cdiscmap.emit.written.series_by_name`: a define asks for each column several
        times)."""
        columns = self._columns.get(dataset)
        if columns is None:
            columns = self._columns[dataset] = series_by_name(self.datasets[dataset]) or {}
        series = columns.get(column)
        return series if series is not None else self.datasets[dataset][column]

    def _column_facts(self, dataset: str, column: str) -> TextFacts | None:
        """The text facts of a column, factorised once per define (None: not text)."""
        key = (dataset, column)
        if key not in self._facts:
            frame = self.datasets[dataset]
            series = self._series(dataset, column)
            # the XPT writer's factorisation of the same column, when it wrote this frame
            facts = recall_text_facts(frame, column, series) \
                if not isinstance(series, pd.DataFrame) else None
            self._facts[key] = facts if facts is not None else text_facts(series)
        return self._facts[key]

    def _values(self, dataset: str, column: str) -> _Values:
        return _Values(self._series(dataset, column), self._column_facts(dataset, column))

    def _mask(self, dataset: str, column: str, value: str) -> np.ndarray:
        """Records whose column equals ``value`` as text."""
        facts = self._column_facts(dataset, column)
        if facts is not None:
            return facts.isin([value])
        text = self.datasets[dataset][column].astype("string")
        return (text == value).fillna(False).to_numpy(dtype=bool)

    def _records_by_value(self, dataset: str, column: str) -> dict[str, np.ndarray] | None:
        """The positions of the records holding each distinct value of a text column, in
        record order (what ``_mask(dataset, column, value)`` selects), from one stable sort
        of its codes; None when the column is not text. (PARAMCD of ADaM, QNAM of SUPP--.)

        A BDS dataset's value-level items select the records of each PARAMCD for AVALC, AVAL
        and CNSR: a mask over every record per parameter, and every record's codes gathered
        through it per variable, made the ADaM define's value-level metadata grow with
        records × parameters × variables (≈ 40 ms at 10,000 subjects); positions cost one
        pass over the codes and then each record once per variable."""
        facts = self._column_facts(dataset, column)
        if facts is None:
            return None
        # -1 (missing) .. n - 1; numpy sorts 16-bit integers by radix sort
        codes = facts.codes.astype(np.int16 if len(facts.uniques) < np.iinfo(np.int16).max
                                   else np.intp)
        order = np.argsort(codes, kind="stable")
        ends = np.cumsum(np.bincount(codes + 1, minlength=len(facts.uniques) + 1))
        return {value: order[ends[i]:ends[i + 1]]
                for i, value in enumerate(facts.uniques.tolist())}

    def _lengths(self, dataset: str, frame: pd.DataFrame, columns: list[XptColumn]
                 ) -> Mapping[str, int]:
        """The XPT length of each column: the writer's own plan when the caller passes it,
        else the numbers :func:`~cdiscmap.emit.xpt.xpt_lengths` gives, taken from the column
        facts (text: declared length, else the longest value in bytes, at least 1; num: 8).
        A column the facts cannot size (text held as numbers, numbers held as text) goes the
        writer's way, which also names what is wrong with it."""
        known = self.known_lengths.get(dataset)
        if known is not None and all(c.name in known for c in columns):
            return known
        written = recall_lengths(frame, columns)
        if written is not None:                 # the XPT writer's plan of this frame
            return written
        lengths: dict[str, int] = {}
        for column in columns:
            if column.name not in frame.columns or \
                    isinstance(frame[column.name], pd.DataFrame):
                return xpt_lengths(frame, columns)
            if column.type == "char":
                facts = self._column_facts(dataset, column.name)
                if facts is None:
                    return xpt_lengths(frame, columns)
                lengths[column.name] = column.length if column.length is not None \
                    else max(1, facts.max_bytes)
            else:
                dtype = frame[column.name].dtype
                if not (pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
                        or pd.api.types.is_datetime64_any_dtype(dtype)):
                    return xpt_lengths(frame, columns)
                lengths[column.name] = NUM_BYTES
        return lengths

    def _item_def(self, dataset: str, var: Variable, column: XptColumn, series: _Values,
                  length: int, facts: _Variable, *, has_value_list: bool) -> ItemDef:
        data_type, significant = self._data_type(var, column, series)
        codelist_oid = None
        if not has_value_list:
            codelist = self._codelist_name(dataset, var)
            if codelist is not None and var.extra_codelists and codelist == var.codelist:
                codelist_oid = self._use_codelists(dataset, var, data_type, series)
            elif codelist is not None:
                codelist_oid = self._use_codelist(codelist, data_type, series, dataset, var.name)
        comment_oid = None
        if facts.comment:
            comment_oid = f"COM.{dataset}.{var.name}"
            self.comments[comment_oid] = Comment(comment_oid, facts.comment)
        if facts.method is not None:
            self.methods[facts.method.oid] = facts.method
        return ItemDef(
            oid=f"IT.{dataset}.{var.name}", name=var.name, data_type=data_type,
            label=column.label,
            length=None if data_type in ISO8601_TYPES else length,
            significant_digits=significant, display_format=column.format,
            sas_name=var.name, codelist_oid=codelist_oid, origins=facts.origins,
            comment_oid=comment_oid)

    def _data_type(self, var: Variable, column: XptColumn, series: _Values
                   ) -> tuple[str, int | None]:
        """Define-XML data type (and SignificantDigits for floats) of a written variable."""
        if column.type == "char":
            domain = var.value_domain or ""
            if domain.startswith("ISO 8601") or (not domain and var.name.endswith("DTC")):
                return _iso8601_type(series.stripped(),
                                     duration="duration" in domain), None
            return "text", None
        if series.kind == "M":          # ADaM dates: SAS date numbers (DATE9.)
            return "integer", None
        data_type = series.number_type()
        return data_type, max_decimals(series.numbers()) if data_type == "float" else None

    # ---------------------------------------------------------------- origins and methods
    def _variable_facts(self, dataset: str, var: Variable, frame: pd.DataFrame) -> _Variable:
        if self.kind == "ADaM":
            return self._adam_facts(dataset, var, frame)
        if dataset.startswith("SUPP") and dataset not in self.standards.datasets:
            return self._supp_facts(dataset, var, frame)
        if self._from_trial_summary(dataset):
            return self._ts_facts(var)
        return self._sdtm_facts(dataset, var)

    def _sdtm_facts(self, dataset: str, var: Variable) -> _Variable:
        entry = self.origins.get(dataset, {}).get(var.name)
        if entry is None:
            self.notes.append(f"{dataset}.{var.name}: not in the mapping spec; described as "
                              "Derived with no algorithm")
            return _Variable((Origin("Derived"),), self._method(
                dataset, var.name, f"{var.name} is not in the mapping spec of {dataset}; it is "
                "set by cdiscmap after mapping"))
        kind = entry.get("origin", "Derived")
        comment = (entry.get("comment") or "").strip()
        if kind == "Collected":
            return _Variable((Origin("Collected", "Investigator"),), comment=comment)
        if kind == "Predecessor":
            return _Variable((Origin("Predecessor", description=self._predecessor(
                dataset, var.name)),), comment=comment)
        if kind != "Derived":
            return _Variable((Origin(kind),), comment=comment)
        text = self._sdtm_method_text(dataset, var.name, entry)
        if comment:
            text = f"{text}. {comment}"
        return _Variable((Origin("Derived"),), self._method(dataset, var.name, text), comment)

    def _sdtm_method_text(self, dataset: str, variable: str, entry: Mapping[str, str]) -> str:
        """What the algorithm does, the IG section it applies, and the spec file:line."""
        entries = _spec_entries(self.study, dataset, variable)
        if not entries:
            return f"{entry.get('algorithm', 'derived')}; {entry.get('where', '')}".strip("; ")
        parts = []
        for block, spec, path in entries:
            phrase = _phrase(spec)
            reference = _ALGORITHM_REFERENCE.get(spec.algorithm)
            where = self._spec_location(dataset, path)
            text = f"{phrase}: {reference}; {where}" if reference else f"{phrase}; {where}"
            parts.append(f"[{block}] {text}" if block and len(entries) > 1 else text)
        return " | ".join(parts)

    def _predecessor(self, dataset: str, variable: str) -> str:
        for _, spec, _ in _spec_entries(self.study, dataset, variable):
            if spec.copy_ is not None:
                return f"{dataset}.{spec.copy_}"
            if spec.from_domain is not None:
                return f"{spec.from_domain.domain}.{spec.from_domain.variable}"
            return _phrase(spec)
        return f"{dataset}.{variable}"

    def _spec_location(self, dataset: str, path: tuple[str | int, ...]) -> str:
        """``mappings/<study>/sdtm/<domain>.yaml:<line>``, independent of the working folder."""
        line = self.study.domain_yaml[dataset].line_of(path)
        return f"{self._folder}/sdtm/{dataset.lower()}.yaml:{line}"

    def _method(self, dataset: str, variable: str, text: str, *, oid: str | None = None
                ) -> Method:
        oid = oid or f"MT.{dataset}.{variable}"
        return Method(oid=oid, name=f"Algorithm to derive {dataset}.{variable}", description=text)

    @cached_property
    def _folder(self) -> str:
        """The study folder as method texts name it (resolved once per define: a define
        cites a spec line for most derived variables)."""
        return _study_folder(self.study)

    def _from_trial_summary(self, dataset: str) -> bool:
        """TS written from study.yaml ``trial_summary`` rather than a domain mapping spec."""
        return dataset == "TS" and dataset not in self.study.domains and \
            bool(self.study.study.trial_summary)

    def _study_location(self, path: tuple[str | int, ...]) -> str:
        line = self.study.study_yaml.line_of(path)
        return f"{self._folder}/study.yaml:{line}"

    def _ts_facts(self, var: Variable) -> _Variable:
        """TS from study.yaml: parameters and values are the protocol's, TSVAL per TSPARMCD."""
        if var.name == "TSVAL":
            return _Variable(())        # filled from the value-level items (by TSPARMCD)
        if var.name == "TSSEQ":
            return _Variable((Origin("Derived"),), self._method(
                "TS", "TSSEQ", "seq: 1..n within TSPARMCD in the order of trial_summary; "
                + self._study_location(("trial_summary",))))
        if var.name in ("STUDYID", "DOMAIN", "TSPARM", "TSVALNF"):
            return _Variable((Origin("Assigned"),))
        return _Variable((Origin("Protocol"),))

    def _ts_value_items(self, frame: pd.DataFrame) -> dict[str, list[_ValueItem]]:
        """TSVAL per TSPARMCD, in trial_summary order: Protocol when study.yaml gives the value,
        Derived (with the study.yaml line) when it names a derivation."""
        if not {"TSPARMCD", "TSVAL"} <= set(frame.columns):
            return {}
        tsval = self._values("TS", "TSVAL")
        items: list[_ValueItem] = []
        seen: set[str] = set()
        for index, entry in enumerate(self.study.study.trial_summary):
            if entry.parmcd in seen:
                continue
            seen.add(entry.parmcd)
            values = tsval.subset(self._mask("TS", "TSPARMCD", entry.parmcd))
            if values.empty:
                continue
            method = None
            origin = Origin("Protocol")
            if entry.derive is not None:
                origin = Origin("Derived")
                where = self._study_location(("trial_summary", index))
                method = self._method("TS", f"TSVAL.{entry.parmcd}",
                                      f"{entry.derive} derived from the mapped DM; {where}",
                                      oid=f"MT.TS.TSVAL.{_oid_part(entry.parmcd)}")
            data_type = _iso8601_type(values.stripped()) \
                if entry.parmcd.endswith("DTC") else _text_number_type(values)
            items.append(_ValueItem(
                suffix=_oid_part(entry.parmcd), name="TSVAL",
                checks=(RangeCheck("IT.TS.TSPARMCD", "EQ", (entry.parmcd,)),), values=values,
                data_type=data_type, origins=(origin,), method=method))
        return {"TSVAL": items}

    def _supp_facts(self, dataset: str, var: Variable, frame: pd.DataFrame) -> _Variable:
        """SUPP-- structure variables: assigned by the SUPP-- builder, keys from the parent."""
        parent = dataset[4:]
        if var.name == "USUBJID":
            return _Variable((Origin("Predecessor", description=f"{parent}.USUBJID"),))
        if var.name == "IDVARVAL":
            idvars = sorted(self._values(dataset, "IDVAR").present.unique().tolist()) \
                if "IDVAR" in frame else []
            if idvars:
                return _Variable((Origin("Predecessor", description=", ".join(
                    f"{parent}.{v}" for v in idvars)),))
        if var.name == "QVAL":
            return _Variable(())       # filled from the value-level items (by QNAM)
        return _Variable((Origin("Assigned"),))

    def _adam_facts(self, dataset: str, var: Variable, frame: pd.DataFrame) -> _Variable:
        texts = self.adam_methods.get(dataset, {})
        if var.name in texts:
            text = texts[var.name]
            if _PREDECESSOR_TEXT.fullmatch(text.strip()):
                return _Variable((Origin("Predecessor", description=text.strip()),))
            return _Variable((Origin("Derived"),), self._method(dataset, var.name, text))
        companion = self._companion_method(dataset, var.name)
        if companion is not None:
            return _Variable((Origin("Derived"),), companion)
        if dataset != "ADSL" and var.name in self._adsl_variables():
            return _Variable((Origin("Predecessor", description=f"ADSL.{var.name}"),))
        if dataset == "ADSL" and "DM" in self.standards.datasets and \
                var.name in self.standards.dataset("DM").names():
            return _Variable((Origin("Predecessor", description=f"DM.{var.name}"),))
        if var.name in _ADAM_VALUE_LEVEL and "PARAMCD" in frame and any(
                k.startswith("PARAMCD=") for k in texts):
            return _Variable((Origin("Derived"),))   # described per PARAMCD (value level)
        self.notes.append(f"{dataset}.{var.name}: the ADaM step records no method text")
        return _Variable((Origin("Derived"),), self._method(
            dataset, var.name, f"{var.label}: derived by the cdiscmap ADaM step for {dataset}; "
            f"no method text is recorded for it (settings: {self._adam_settings(dataset)})"))

    def _companion_method(self, dataset: str, variable: str) -> Method | None:
        """A flag or code variable explained in parentheses by another variable's method
        ("(DTHDTF)", "(AGEGR1N = group order)") shares that MethodDef."""
        pattern = re.compile(rf"\({re.escape(variable)}\b")
        owners = sorted(k for k, text in self.adam_methods.get(dataset, {}).items()
                        if not k.startswith("PARAMCD=") and pattern.search(text))
        if len(owners) != 1:
            return None
        owner = owners[0]
        return self._method(dataset, owner, self.adam_methods[dataset][owner])

    def _adsl_variables(self) -> list[str]:
        if "ADSL" in self.datasets:
            return [c for c in self.datasets["ADSL"].columns if not c.startswith("_")]
        return self.standards.dataset("ADSL").names() if "ADSL" in self.standards.datasets \
            else []

    def _adam_settings(self, dataset: str) -> str:
        path = self.study.folder / "adam" / f"{dataset.lower()}.yaml"
        folder = self._folder
        return f"{folder}/adam/{path.name}" if path.is_file() else f"{folder}/adam"

    # ---------------------------------------------------------------- value-level metadata
    def _value_items(self, dataset: str, frame: pd.DataFrame, meta: Dataset
                     ) -> dict[str, list[_ValueItem]]:
        if self.kind == "ADaM":
            items = self._adam_value_items(dataset, frame)
        elif dataset.startswith("SUPP") and dataset not in self.standards.datasets:
            items = self._supp_value_items(dataset, frame)
        elif self._from_trial_summary(dataset):
            items = self._ts_value_items(frame)
        else:
            items = self._sdtm_value_items(dataset, frame, meta)
        return {var: found for var, found in items.items() if found}

    def _sdtm_value_items(self, dataset: str, frame: pd.DataFrame, meta: Dataset
                          ) -> dict[str, list[_ValueItem]]:
        spec = self.study.domains.get(dataset)
        out: dict[str, list[_ValueItem]] = {}
        for index, rule in enumerate(spec.value_level if spec else []):
            if rule.variable not in frame:
                continue
            checks, selected = self._where(dataset, frame, rule, index)
            values = self._values(dataset, rule.variable).subset(selected)
            if values.empty:
                self.notes.append(f"{dataset}.{rule.variable}: value-level rule {index + 1} "
                                  "selects no value; left out")
                continue
            var = meta.variable(rule.variable)
            facts = self._sdtm_facts(dataset, var)
            out.setdefault(rule.variable, []).append(_ValueItem(
                suffix=".".join(v for c in checks for v in map(_oid_part, c.values)),
                name=rule.variable, checks=checks, values=values, data_type=rule.data_type,
                codelist=rule.codelist, origins=facts.origins, method=facts.method))
        return out

    def _where(self, dataset: str, frame: pd.DataFrame, rule: ValueLevelSpec, index: int
               ) -> tuple[tuple[RangeCheck, ...], np.ndarray]:
        """A value-level where (var: equals / in / not_equals, or all: of those) as range
        checks, and the records it selects."""
        leaves = rule.where.all if rule.where.all is not None else [rule.where]
        checks = []
        selected = np.ones(len(frame), dtype=bool)
        for leaf in leaves:
            facts = self._column_facts(dataset, leaf.var) \
                if leaf.var is not None and leaf.var in frame else None
            check, mask = _range_check(dataset, frame, leaf, facts)
            if check is None:
                spec_file = self.study.domain_files.get(dataset)
                line = self.study.domain_yaml[dataset].line_of(("value_level", index, "where"))
                raise SpecError("a value-level where must test a variable of the domain with "
                                "equals, in or not_equals (or all: of those) to become a "
                                "Define-XML where clause", spec_file, line, "where")
            checks.append(check)
            selected &= mask
        return tuple(checks), selected

    def _supp_value_items(self, dataset: str, frame: pd.DataFrame
                          ) -> dict[str, list[_ValueItem]]:
        """QVAL described per QNAM (SDTMIG 3.4 §8.4): label from QLABEL, origin from the SUPP
        spec (else QORIG), data type from the values."""
        if not {"QNAM", "QVAL"} <= set(frame.columns):
            return {}
        parent = dataset[4:]
        spec = self.study.domains.get(parent)
        items = []
        records = self._records_by_value(dataset, "QNAM")
        for qnam in sorted(self._values(dataset, "QNAM").present.unique().tolist()):
            selected = records[qnam] if records is not None else \
                self._mask(dataset, "QNAM", qnam)
            label = self._values(dataset, "QLABEL").subset(selected).first() \
                if "QLABEL" in frame else None
            supp = spec.supp.get(qnam) if spec else None
            if supp is not None:
                origin = Origin("Collected", "Investigator") if supp.origin == "Collected" \
                    else Origin(supp.origin)
            else:
                qorig = (self._values(dataset, "QORIG").subset(selected).first() or "CRF") \
                    if "QORIG" in frame else "CRF"
                origin = _QORIG_ORIGIN.get(qorig.upper(), Origin("Collected", "Investigator"))
            method = None
            if origin.type == "Derived" and supp is not None:
                where = self._spec_location(parent, ("supp", qnam))
                text = _phrase(supp.value) if supp.value is not None else " | ".join(
                    f"[{block}] {_phrase(value)}" for block, value in supp.values.items())
                method = self._method(dataset, f"QVAL.{qnam}", f"{text}; {where}",
                                      oid=f"MT.{dataset}.QVAL.{qnam}")
            qval = self._values(dataset, "QVAL").subset(selected)
            items.append(_ValueItem(
                suffix=_oid_part(qnam), name=qnam,
                checks=(RangeCheck(f"IT.{dataset}.QNAM", "EQ", (qnam,)),),
                values=qval, data_type=_text_number_type(qval), label=label,
                origins=(origin,), method=method))
        return {"QVAL": items}

    def _adam_value_items(self, dataset: str, frame: pd.DataFrame
                          ) -> dict[str, list[_ValueItem]]:
        """AVALC / AVAL / CNSR per PARAMCD present in the data, with the parameter's method."""
        if "PARAMCD" not in frame:
            return {}
        texts = self.adam_methods.get(dataset, {})
        out: dict[str, list[_ValueItem]] = {}
        records = self._records_by_value(dataset, "PARAMCD")
        for code in sorted(self._values(dataset, "PARAMCD").present.unique().tolist()):
            selected = records[code] if records is not None else \
                self._mask(dataset, "PARAMCD", code)
            for variable in (v for v in _ADAM_VALUE_LEVEL if v in frame):
                values = self._values(dataset, variable).subset(selected)
                if values.empty:
                    continue
                method = None
                if f"PARAMCD={code}" in texts:
                    method = self._method(dataset, f"PARAMCD={code}", texts[f"PARAMCD={code}"],
                                          oid=f"MT.{dataset}.PARAMCD.{_oid_part(code)}")
                    method = replace(method, name=f"Algorithm to derive {dataset} parameter "
                                                  f"{code}")
                elif variable in texts:
                    method = self._method(dataset, variable, texts[variable])
                else:
                    self.notes.append(f"{dataset}.{variable} (PARAMCD={code}): no method text")
                data_type = values.number_type() if values.kind in "fiub" else "text"
                out.setdefault(variable, []).append(_ValueItem(
                    suffix=_oid_part(code), name=variable,
                    checks=(RangeCheck(f"IT.{dataset}.PARAMCD", "EQ", (code,)),),
                    values=values, data_type=data_type, origins=(Origin("Derived"),),
                    method=method))
        return out

    def _value_list(self, dataset: str, var: Variable, items: list[_ValueItem]) -> None:
        """ValueListDef VL.<DS>.<VAR> + where clauses + value-level ItemDefs of one variable."""
        refs = []
        for order, item in enumerate(items, start=1):
            wc_oid = _where_oid(dataset, item.checks)
            self.where_clauses[wc_oid] = WhereClause(wc_oid, item.checks)
            oid = f"IT.{dataset}.{var.name}.{item.suffix}"
            char = item.values.kind not in "fiubM"
            significant = None
            if item.data_type == "float":
                significant = _text_decimals(item.values) if char else max_decimals(
                    item.values.numbers())
            codelist_oid = None
            if item.codelist is not None:
                codelist_oid = self._use_codelist(item.codelist, item.data_type, item.values,
                                                  dataset, var.name)
            if item.method is not None:
                self.methods[item.method.oid] = item.method
            length = _text_length(item.values) if char else 8
            self.item_defs.append(ItemDef(
                oid=oid, name=item.name, data_type=item.data_type, label=item.label,
                length=None if item.data_type in ISO8601_TYPES else length,
                significant_digits=significant, sas_name=item.name,
                codelist_oid=codelist_oid, origins=item.origins))
            refs.append(ItemRef(item_oid=oid, order=order, mandatory=var.core == "Req",
                                method_oid=item.method.oid if item.method else None,
                                where_clause_oid=wc_oid))
        self.value_lists.append(ValueList(f"VL.{dataset}.{var.name}", tuple(refs)))

    # ---------------------------------------------------------------- codelists
    def _codelist_name(self, dataset: str, var: Variable) -> str | None:
        """The variable's codelist: the study's override, the IG codelist, or the external
        dictionary its value domain names (MedDRA, ISO 3166)."""
        spec = self.study.domains.get(dataset) if self.kind == "SDTM" else None
        if spec is not None and var.name in spec.codelist_overrides:
            return spec.codelist_overrides[var.name]
        if var.codelist:
            return var.codelist
        if self.kind == "ADaM" and var.name == "PARAMCD":
            return f"{dataset}.PARAMCD"
        if var.value_domain:
            for codelist in self.standards.codelists.values():
                if codelist.external and codelist.dictionary and (
                        var.value_domain == codelist.dictionary
                        or var.value_domain.startswith(codelist.dictionary + " ")
                        or var.value_domain.startswith(codelist.dictionary + "-")):
                    return codelist.name
        return None

    def _use_codelist(self, name: str, data_type: str, values: _Values, dataset: str,
                      variable: str) -> str | None:
        """Record the values a codelist is used with; the OID the item refers to (None when
        an extensible list is used by a variable with no value: nothing to list)."""
        if name == f"{dataset}.PARAMCD":
            return self._paramcd_codelist(dataset)
        codelist = self.standards.codelist(name)
        if not codelist.external and codelist.extensible and values.empty:
            return None
        self.usage.add((name, data_type), None if codelist.external else values)
        return _codelist_oid(codelist, data_type)

    def _use_codelists(self, dataset: str, var: Variable, data_type: str, series: _Values
                       ) -> str | None:
        """A variable the IG gives several codelists (DSDECOD: NCOMPLT, PROTMLST, OTHEVENT).

        When its values come from one of them, that list is referenced. When they come from
        several, one CodeList CL.<DS>.<VAR> lists the used terms of each (with their NCI codes),
        since an ItemDef has one CodeListRef; value-level metadata in the domain spec (e.g.
        DSDECOD by DSCAT) is the finer description and takes over when present.
        """
        used = set(series.used)
        lists = [self.standards.codelist(name) for name in var.codelists]
        sources = [cl for cl in lists if used & cl.values()]
        if len(sources) <= 1:
            chosen = sources[0].name if sources else var.codelist
            return self._use_codelist(chosen, data_type, series, dataset, var.name)
        oid = f"CL.{dataset}.{var.name}"
        terms: list[Term] = []
        for codelist in sources:
            terms += [Term(t.value, t.code, t.decode) for t in codelist.terms
                      if t.value in used and t.value not in {x.value for x in terms}]
        known = set().union(*(cl.values() for cl in lists))
        extended = all(cl.extensible and not cl.subset for cl in sources)
        terms += [Term(v, extended=extended) for v in sorted(used - known)]
        self.notes.append(f"{dataset}.{var.name}: values from codelists "
                          f"{', '.join(cl.name for cl in sources)}; one combined codelist {oid} "
                          "is listed (value-level metadata in the domain spec would tie each "
                          "value to its own list)")
        self.generated[oid] = CodeList(
            oid=oid, name=f"{var.label} ({', '.join(cl.name for cl in sources)})",
            data_type=data_type, terms=tuple(terms),
            decoded=any(t.decode and t.decode.casefold() != t.value.casefold() for t in terms))
        return oid

    def _paramcd_codelist(self, dataset: str) -> str:
        """Parameter codes of an ADaM dataset as found in the data, decoded by PARAM."""
        oid = f"CL.{dataset}.PARAMCD"
        frame = self.datasets[dataset]
        facts = self._column_facts(dataset, "PARAMCD")
        code = self._series(dataset, "PARAMCD")
        decode = self._series(dataset, "PARAM") if "PARAM" in frame else None
        terms: tuple[Term, ...] | None = None
        if facts is not None:          # each code with the PARAM of its first record
            codes = facts.codes
            first = np.full(len(facts.uniques) + 1, len(codes), dtype=np.intp)
            first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)   # the last write wins
            first = np.sort(first[:-1])
            first = first[first < len(codes)]
            code = code.iloc[first]
            decode = decode.iloc[first] if decode is not None else None
            terms = _first_terms(facts.uniques[facts.codes[first]].tolist(), decode)
        if terms is None:
            pairs = pd.DataFrame({"code": code.astype("string"),
                                  "decode": decode.astype("string") if decode is not None
                                  else pd.Series(pd.NA, index=code.index, dtype="string")})
            pairs = pairs.dropna(subset=["code"]).drop_duplicates("code").sort_values(
                "code", kind="mergesort")
            terms = tuple(Term(value=str(code), decode=None if pd.isna(decode) else str(decode))
                          for code, decode in zip(pairs["code"], pairs["decode"], strict=True))
        self.generated[oid] = CodeList(
            oid=oid, name=f"Parameter Code ({dataset})", data_type="text", terms=terms,
            decoded=any(t.decode and t.decode.casefold() != t.value.casefold() for t in terms))
        return oid

    def _codelists(self) -> tuple[CodeList, ...]:
        out = dict(self.generated)
        for (name, data_type), used in self.usage.values.items():
            codelist = self.standards.codelist(name)
            oid = _codelist_oid(codelist, data_type)
            out[oid] = self._codelist(codelist, oid, data_type, used)
        return tuple(out[k] for k in sorted(out))

    def _codelist(self, codelist: Codelist, oid: str, data_type: str, used: set[str]
                  ) -> CodeList:
        standard_oid = self._ct_oid(codelist.source)
        name = codelist.label if data_type == codelist.data_type else \
            f"{codelist.label} ({data_type})"
        if codelist.external:
            version = self.study.study.standards.get(codelist.name.lower()) or codelist.version
            return CodeList(oid=oid, name=name, data_type=data_type,
                            dictionary=codelist.dictionary, version=str(version))
        known = {t.value for t in codelist.terms}
        listed = [t for t in codelist.terms if not codelist.extensible or t.value in used]
        # a study's declared additions (study.yaml `extends:`) are extensions
        terms = [Term(t.value, t.code, t.decode, extended=t.extended) for t in listed]
        # Sponsor values in an extensible list are extensions; for a subset we cannot tell.
        extended = codelist.extensible and not codelist.subset
        terms += [Term(v, extended=extended) for v in sorted(used - known)]
        if used - known:
            self.notes.append(f"codelist {codelist.name}: values not in the terms carried in "
                              f"specs/: {', '.join(sorted(used - known))}")
        decoded = any(t.decode and t.decode.casefold() != t.value.casefold() for t in terms)
        return CodeList(oid=oid, name=name, data_type=data_type, code=codelist.code,
                        standard_oid=standard_oid, terms=tuple(terms), decoded=decoded)

    def _ct_oid(self, source: str) -> str | None:
        for family, publishing_set in (("SDTM CT", "SDTM"), ("ADaM CT", "ADaM")):
            version = self.standards.versions.get(family)
            if version is not None and source == f"{family} {version}":
                return _ct_standard(family, publishing_set, version).oid
        return None


def _first_terms(codes: list[str], decode: pd.Series | None) -> tuple[Term, ...] | None:
    """The PARAMCD terms of distinct codes (text, each once) and the PARAM of each one's
    first record, sorted by code: what the general path of ``_paramcd_codelist`` makes with
    a pandas frame (drop, dedupe, sort: ≈ 2 ms a dataset), from a few Python values. None
    when a PARAM is neither text nor missing (the general path formats it)."""
    decodes: list[object] = [None] * len(codes) if decode is None else decode.tolist()
    if not all(d is None or d is pd.NA or isinstance(d, str) or (isinstance(d, float) and d != d)
               for d in decodes):
        return None
    pairs = sorted(zip(codes, decodes, strict=True), key=lambda pair: pair[0])
    return tuple(Term(value=code, decode=value if isinstance(value, str) else None)
                 for code, value in pairs)


def _domain_attribute(name: str) -> str:
    """ItemGroupDef Domain: a SUPP-- dataset describes its parent domain's records, so its
    Domain is the parent (SUPPAE → AE), as in the Define-XML 2.1 examples; others their name."""
    return name[4:] if name.startswith("SUPP") and len(name) > 4 else name


def _ct_standard(family: str, publishing_set: str, version: str) -> StandardRef:
    return StandardRef(oid=f"STD.CT.{publishing_set.upper()}.{version}", name="CDISC/NCI",
                       type="CT", version=version, publishing_set=publishing_set)


def _codelist_oid(codelist: Codelist, data_type: str) -> str:
    """CL.<name>; a list used by items of another data type (MedDRA codes) gets its own OID,
    because a CodeList's DataType must match the ItemDefs that refer to it."""
    oid = f"CL.{codelist.name}"
    return oid if data_type == codelist.data_type else f"{oid}.{data_type.upper()}"


def _range_check(dataset: str, frame: pd.DataFrame, leaf: Condition,
                 facts: TextFacts | None = None) -> tuple[RangeCheck | None, np.ndarray]:
    """One where-clause leaf on a variable and the records it selects; (None, ...) when it
    cannot be expressed. ``facts``: the variable's text facts, when it is text."""
    if leaf.var is None or leaf.var not in frame:
        return None, np.zeros(len(frame), dtype=bool)
    if leaf.equals is not None:
        values, comparator = (str(leaf.equals),), "EQ"
    elif leaf.in_ is not None:
        values, comparator = tuple(str(v) for v in leaf.in_), "IN"
    elif leaf.not_equals is not None:
        values, comparator = (str(leaf.not_equals),), "NE"
    else:
        return None, np.zeros(len(frame), dtype=bool)
    numbers = pd.to_numeric(pd.Series(values), errors="coerce")
    if frame[leaf.var].dtype.kind in "fiu" and numbers.notna().all():
        # numbers compare as numbers: VISITNUM 8 is "8", not "8.0" (as the engine tests them)
        mask = frame[leaf.var].isin(numbers.tolist()).fillna(False).to_numpy(dtype=bool)
    elif facts is not None:
        mask = facts.isin(list(values))
    else:
        mask = frame[leaf.var].astype("string").isin(list(values)).fillna(False) \
            .to_numpy(dtype=bool)
    if comparator == "NE":
        mask = ~mask & frame[leaf.var].notna().to_numpy(dtype=bool)
    return RangeCheck(f"IT.{dataset}.{leaf.var}", comparator, values), mask


def _where_oid(dataset: str, checks: tuple[RangeCheck, ...]) -> str:
    parts = [f"{c.item_oid.rsplit('.', 1)[-1]}.{c.comparator}."
             + ".".join(_oid_part(v) for v in c.values) for c in checks]
    return f"WC.{dataset}." + ".".join(parts)


def _oid_part(value: str) -> str:
    """A value as a readable OID fragment (letters, digits, _ - kept; others become _)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", value.strip()) or "_"


def _distinct(origins: Iterable[Origin]) -> tuple[Origin, ...]:
    return tuple(dict.fromkeys(origins))


def _study_folder(study: LoadedStudy) -> str:
    """The study folder as written in method texts: ``mappings/<study>`` in a checkout."""
    folder = study.folder.resolve()
    if folder.parent.name == "mappings":
        return f"mappings/{folder.name}"
    return folder.name


def _spec_entries(study: LoadedStudy, dataset: str, variable: str
                  ) -> list[tuple[str | None, VariableSpec, tuple[str | int, ...]]]:
    """Every place a domain's spec derives a variable: (block name or None, spec, YAML path)."""
    spec = study.domains.get(dataset)
    if spec is None:
        return []
    found: list[tuple[str | None, VariableSpec, tuple[str | int, ...]]] = []
    if variable in spec.variables:
        found.append((None, spec.variables[variable], ("variables", variable)))
    for index, block in enumerate(spec.blocks):
        if variable in block.variables:
            found.append((block.name, block.variables[variable],
                          ("blocks", index, "variables", variable)))
    return found


# --------------------------------------------------------------------------------------------
# Algorithm phrases: a mapping-spec entry in words, named as in the spec language
# --------------------------------------------------------------------------------------------

def _operand(op: Operand) -> str:
    if op.column is not None:
        return f"raw {op.column}"
    if op.var is not None:
        return op.var
    return f"'{op.value}'"


def _condition(cond: Condition) -> str:
    if cond.all is not None:
        return " and ".join(_condition(c) for c in cond.all)
    if cond.any is not None:
        return "(" + " or ".join(_condition(c) for c in cond.any) + ")"
    if cond.not_ is not None:
        return f"not ({_condition(cond.not_)})"
    target = f"raw {cond.column}" if cond.column is not None else str(cond.var)
    if cond.blank is not None:
        return f"{target} is {'blank' if cond.blank else 'not blank'}"
    if cond.equals is not None:
        return f"{target} = '{cond.equals}'"
    if cond.not_equals is not None:
        return f"{target} != '{cond.not_equals}'"
    if cond.in_ is not None:
        return f"{target} in (" + ", ".join(f"'{v}'" for v in cond.in_) + ")"
    return f"{target} matches /{cond.matches}/"


def _phrase(spec: VariableSpec) -> str:
    """One spec entry as words: ``study_day of AESTDTC``, ``when raw X = 'Y': constant 'Z'``."""
    args = spec.args()
    name = spec.algorithm
    if name == "take":
        column = args if isinstance(args, str) else args.column
        text = f"take raw {column}"
        if not isinstance(args, str) and args.default is not None:
            text += f" (default '{args.default}')"
    elif name == "constant":
        text = f"constant '{args}'"
    elif name == "assign_ct":
        source = f"raw {args.column}" if args.column else args.var
        text = f"assign_ct of {source} via study codelist {args.codelist}"
    elif name == "iso8601":
        if args.parts is not None:      # separate year/month/day columns
            cols = [c for c in (args.parts.year, args.parts.month, args.parts.day) if c]
            source, style = "raw " + "/".join(cols), "year/month/day"
        else:
            source, style = f"raw {args.date}", args.format
        parts = source + (f" and raw {args.time}" if args.time else "")
        text = f"iso8601 of {parts} ({style})"
    elif name == "concat":
        text = "concat of " + ", ".join(_operand(p) for p in args.parts) + \
            (f" joined by '{args.sep}'" if args.sep else "")
    elif name == "when":
        branches = []
        for number, branch in enumerate(args):
            if branch.else_ is not None:
                branches.append(f"otherwise {_phrase(branch.else_)}")
            else:
                keyword = "if" if number == 0 else "else if"
                branches.append(f"{keyword} {_condition(branch.if_)}: {_phrase(branch.then)}")
        if not any(b.else_ is not None for b in args):
            branches.append("otherwise null")
        text = "; ".join(branches)
    elif name == "number":
        source = f"raw {args.column}" if args.column else args.var
        text = f"number of {source}" + (f" (default {args.default:g})"
                                        if args.default is not None else "")
    elif name == "copy":
        text = f"copy of {args}"
    elif name == "from_domain":
        text = f"from_domain: {args.agg} of {args.domain}.{args.variable} per subject"
        if args.where is not None:
            text += f" where {_condition(args.where)}"
    elif name == "study_day":
        text = f"study_day of {args.dtc} from DM.RFSTDTC"
    elif name == "epoch":
        text = f"epoch of {args.dtc} by the study's epoch rules on DM reference dates"
    elif name == "seq":
        text = f"seq: 1..n within {', '.join(args.by)}" + (
            f" ordered by {', '.join(args.order)}" if args.order else "")
    elif name in ("visit", "visitnum"):
        text = f"{name} from raw {args.column} by the study's visit rules" + (
            f" (unscheduled visits placed by {args.date})" if args.date else "")
    elif name == "empty":
        text = "empty: not collected in this study"
    elif name == "expr":
        text = f"expr: {args}"
    elif name == "lobxfl":
        text = (f"lobxfl: Y on the last record with {args.result} present dated on or before "
                f"DM.RFXSTDTC ({args.dtc}), per {', '.join(args.by)}")
    else:  # pragma: no cover - the spec models accept no other algorithm
        text = name
    if spec.case != "keep":
        text += f" ({spec.case} case)"
    return text


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

def _q(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


class _Renderer:
    """A straight walk over the model: Define-XML 2.1 element order, attributes in the order
    the specification lists them."""

    def __init__(self, model: DefineModel) -> None:
        self.model = model

    def render(self) -> bytes:
        return self.render_with_tree()[0]

    def render_with_tree(self) -> tuple[bytes, etree._Element]:
        """The define.xml bytes and the element tree they were serialised from."""
        m = self.model
        root = etree.Element(_q(ODM_NS, "ODM"), nsmap={None: ODM_NS, "def": DEF_NS,
                                                        "xlink": XLINK_NS})
        _attrs(root, {"FileType": "Snapshot", "FileOID": m.file_oid,
                      "CreationDateTime": m.created, "ODMVersion": "1.3.2",
                      "Originator": "cdiscmap", "SourceSystem": "cdiscmap",
                      "SourceSystemVersion": __version__,
                      _q(DEF_NS, "Context"): "Submission"})
        study = _sub(root, ODM_NS, "Study", {"OID": m.study_oid})
        glob = _sub(study, ODM_NS, "GlobalVariables")
        _sub(glob, ODM_NS, "StudyName").text = m.study_name
        _sub(glob, ODM_NS, "StudyDescription").text = m.study_description
        _sub(glob, ODM_NS, "ProtocolName").text = m.protocol_name
        mdv = _sub(study, ODM_NS, "MetaDataVersion", {
            "OID": m.mdv_oid, "Name": m.mdv_name, "Description": m.mdv_description,
            _q(DEF_NS, "DefineVersion"): DEFINE_VERSION})
        self._standards(mdv)
        for value_list in m.value_lists:
            node = _sub(mdv, DEF_NS, "ValueListDef", {"OID": value_list.oid})
            for ref in value_list.items:
                self._item_ref(node, ref)
        for clause in m.where_clauses:
            node = _sub(mdv, DEF_NS, "WhereClauseDef", {"OID": clause.oid})
            for check in clause.checks:
                rc = _sub(node, ODM_NS, "RangeCheck", {
                    "Comparator": check.comparator, "SoftHard": "Soft",
                    _q(DEF_NS, "ItemOID"): check.item_oid})
                for value in check.values:
                    _sub(rc, ODM_NS, "CheckValue").text = value
        for group in m.item_groups:
            self._item_group(mdv, group)
        for item in m.item_defs:
            self._item_def(mdv, item)
        for codelist in m.codelists:
            self._codelist(mdv, codelist)
        for method in m.methods:
            node = _sub(mdv, ODM_NS, "MethodDef", {"OID": method.oid, "Name": method.name,
                                                   "Type": method.type})
            _description(node, method.description)
        for comment in m.comments:
            _description(_sub(mdv, DEF_NS, "CommentDef", {"OID": comment.oid}),
                         comment.description)
        return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8",
                              pretty_print=True), root

    def _standards(self, mdv: etree._Element) -> None:
        node = _sub(mdv, DEF_NS, "Standards")
        for std in self.model.standards:
            _sub(node, DEF_NS, "Standard", {
                "OID": std.oid, "Name": std.name, "Type": std.type,
                "PublishingSet": std.publishing_set, "Version": std.version,
                "Status": std.status})

    def _item_group(self, mdv: etree._Element, group: ItemGroup) -> None:
        node = _sub(mdv, ODM_NS, "ItemGroupDef", {
            "OID": group.oid, "Domain": group.domain, "Name": group.name,
            "Repeating": _yes_no(group.repeating), "IsReferenceData": "No",
            "SASDatasetName": group.name, "Purpose": group.purpose,
            _q(DEF_NS, "Structure"): group.structure,
            _q(DEF_NS, "StandardOID"): group.standard_oid,
            _q(DEF_NS, "ArchiveLocationID"): group.leaf_id})
        _description(node, group.label)
        for ref in group.items:
            self._item_ref(node, ref)
        cls = _sub(node, DEF_NS, "Class", {"Name": group.class_name})
        if group.subclass:
            _sub(cls, DEF_NS, "SubClass", {"Name": group.subclass})
        leaf = _sub(node, DEF_NS, "leaf", {"ID": group.leaf_id,
                                          _q(XLINK_NS, "href"): group.href})
        _sub(leaf, DEF_NS, "title").text = group.href

    def _item_ref(self, parent: etree._Element, ref: ItemRef) -> None:
        node = _sub(parent, ODM_NS, "ItemRef", {
            "ItemOID": ref.item_oid, "OrderNumber": str(ref.order),
            "Mandatory": _yes_no(ref.mandatory),
            "KeySequence": str(ref.key_sequence) if ref.key_sequence else None,
            "MethodOID": ref.method_oid, "Role": ref.role,
            _q(DEF_NS, "HasNoData"): "Yes" if ref.has_no_data else None})
        if ref.where_clause_oid:
            _sub(node, DEF_NS, "WhereClauseRef", {"WhereClauseOID": ref.where_clause_oid})

    def _item_def(self, mdv: etree._Element, item: ItemDef) -> None:
        node = _sub(mdv, ODM_NS, "ItemDef", {
            "OID": item.oid, "Name": item.name, "DataType": item.data_type,
            "Length": str(item.length) if item.length is not None else None,
            "SignificantDigits": str(item.significant_digits)
            if item.significant_digits is not None else None,
            "SASFieldName": item.sas_name,
            _q(DEF_NS, "DisplayFormat"): item.display_format,
            _q(DEF_NS, "CommentOID"): item.comment_oid})
        if item.label:
            _description(node, item.label)
        if item.codelist_oid:
            _sub(node, ODM_NS, "CodeListRef", {"CodeListOID": item.codelist_oid})
        for origin in item.origins:
            org = _sub(node, DEF_NS, "Origin", {"Type": origin.type, "Source": origin.source})
            if origin.description:
                _description(org, origin.description)
        if item.value_list_oid:
            _sub(node, DEF_NS, "ValueListRef", {"ValueListOID": item.value_list_oid})

    def _codelist(self, mdv: etree._Element, codelist: CodeList) -> None:
        node = _sub(mdv, ODM_NS, "CodeList", {
            "OID": codelist.oid, "Name": codelist.name, "DataType": codelist.data_type,
            _q(DEF_NS, "StandardOID"): codelist.standard_oid})
        if codelist.dictionary:
            _sub(node, ODM_NS, "ExternalCodeList", {"Dictionary": codelist.dictionary,
                                                    "Version": codelist.version})
            return
        for order, term in enumerate(codelist.terms, start=1):
            attrs = {"CodedValue": term.value, "OrderNumber": str(order),
                     _q(DEF_NS, "ExtendedValue"): "Yes" if term.extended else None}
            if codelist.decoded:
                item = _sub(node, ODM_NS, "CodeListItem", attrs)
                decode = _sub(item, ODM_NS, "Decode")
                _translated(decode, term.decode or term.value)
            else:
                item = _sub(node, ODM_NS, "EnumeratedItem", attrs)
            if term.code:
                _sub(item, ODM_NS, "Alias", {"Context": NCI_ALIAS, "Name": term.code})
        if codelist.code:
            _sub(node, ODM_NS, "Alias", {"Context": NCI_ALIAS, "Name": codelist.code})


def _attrs(node: etree._Element, attrs: Mapping[str, str | None]) -> None:
    for key, value in attrs.items():
        if value is not None:
            node.set(key, value)


def _sub(parent: etree._Element, namespace: str, tag: str,
         attrs: Mapping[str, str | None] | None = None) -> etree._Element:
    node = etree.SubElement(parent, _q(namespace, tag))
    _attrs(node, attrs or {})
    return node


def _translated(parent: etree._Element, text: str) -> None:
    node = _sub(parent, ODM_NS, "TranslatedText", {_q(XML_NS, "lang"): "en"})
    node.text = text


def _description(parent: etree._Element, text: str) -> None:
    _translated(_sub(parent, ODM_NS, "Description"), text)


def _yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(define_xsd_path())))


@lru_cache(maxsize=1)
def _stylesheet() -> etree.XSLT:
    path = define_stylesheet_path()
    text = faster_stylesheet(path.read_text(encoding="utf-8"))
    return etree.XSLT(etree.fromstring(text.encode("utf-8"), base_url=str(path)))


def faster_stylesheet(text: str) -> str:
    """define2-1.xsl with its quadratic lookups made linear, for the same HTML.

    For every code list item the stylesheet asks whether *any* item of the list has a
    description or a rank, and it finds every ItemDef, code list, where clause, method,
    comment, value list and dataset it names by scanning all of them (``../../odm:ItemDef[
    @OID=$x]``, ``$g_seqItemDefs[@OID=$x]``; the datasets of an ItemOID by scanning every
    ItemRef): at 1,000 subjects 0.2 CPU-s per define.html, 0.05 without. Here the code list
    questions are asked once per list (template variables) and the definitions are found
    through ``xsl:key`` (a define.xml has one MetaDataVersion, so the key's document-wide
    match is the same node; see ``_STYLESHEET_KEYS``). Every edit must find its text
    exactly once (each lookup pattern at least once), else the stylesheet is returned
    unchanged (another defineutils release); tests compare both renderings."""
    edits: list[tuple[str, str]] = []
    for kind, template in (("CodeListItem", "tableCodeListItems"),
                           ("EnumeratedItem", "tableEnumeratedItems")):
        head = f'<xsl:template name="{template}">'
        edits.append((head, head + (
            f'\n    <xsl:variable name="cdiscmap.{kind}.described" '
            f'select="boolean(odm:{kind}/odm:Description/odm:TranslatedText)"/>'
            f'\n    <xsl:variable name="cdiscmap.{kind}.ranked" '
            f'select="boolean(odm:{kind}/@Rank)"/>')))
        edits.append((f'<xsl:if test="../odm:{kind}/odm:Description/odm:TranslatedText">',
                      f'<xsl:if test="$cdiscmap.{kind}.described">'))
        edits.append((f'<xsl:if test="../odm:{kind}/@Rank">',
                      f'<xsl:if test="$cdiscmap.{kind}.ranked">'))
    anchor = '  <xsl:variable name="g_seqStandard"'
    keys = "".join(f'  <xsl:key name="cdiscmap.{name}" match="{_KEY_PATH}{match}" '
                   f'use="{use}"/>\n' for name, match, use in _STYLESHEET_KEYS)
    edits.append((anchor, keys + anchor))
    for variable in ("ItemDefOID", "valueDefOID"):
        edits.append((f'select="../../odm:ItemDef[@OID=${variable}]"',
                      f"select=\"key('cdiscmap.ItemDef', ${variable})\""))
    edits.append(('select="../../odm:ItemDef/def:ValueListRef[@ValueListOID=$vlOID]"',
                  "select=\"key('cdiscmap.ValueListRef', $vlOID)\""))
    if any(text.count(old) != 1 for old, _ in edits) or not all(
            pattern.search(text) for pattern, _ in _STYLESHEET_LOOKUPS):
        return text
    for old, new in edits:
        text = text.replace(old, new)
    for pattern, replacement in _STYLESHEET_LOOKUPS:
        text = pattern.sub(replacement, text)
    return text


# Elements define2-1.xsl looks up by OID in its global sequences ($g_seqItemDefs[@OID=$x],
# the children of the first Study's first MetaDataVersion): an xsl:key finds them without a
# scan. A key indexes the whole document, the same nodes for a define.xml with one Study and
# one MetaDataVersion (every define cdiscmap writes and renders); key() of a node-set is the
# union over its values, as the predicate is true for any of them.
# Each key's match is an absolute path (_KEY_PATH + match): libxslt indexes a key by
# evaluating its match as an expression, "//" + match for a relative one, i.e. a walk of every
# node of the document per key; the path walks the MetaDataVersion's children only (the
# nine keys of an SDTM define at 1,000 subjects 3.9 -> 1.75 CPU-ms, ADaM 1.7 -> 1.1 ms; the
# same nodes, as Define-XML 2.1 has these elements nowhere else).
_KEY_PATH = "/odm:ODM/odm:Study/odm:MetaDataVersion/"
_STYLESHEET_KEYS = (
    ("ItemDef", "odm:ItemDef", "@OID"),
    ("CodeList", "odm:CodeList", "@OID"),
    ("WhereClauseDef", "def:WhereClauseDef", "@OID"),
    ("ValueListDef", "def:ValueListDef", "@OID"),
    ("MethodDef", "odm:MethodDef", "@OID"),
    ("CommentDef", "def:CommentDef", "@OID"),
    ("ItemGroupDef", "odm:ItemGroupDef", "@OID"),
    ("GroupItemRef", "odm:ItemGroupDef/odm:ItemRef", "@ItemOID"),
    ("ValueListRef", "odm:ItemDef/def:ValueListRef", "@ValueListOID"),
)
_STYLESHEET_LOOKUPS = (
    (re.compile(r"\$g_seq(ItemDef|CodeList|WhereClauseDef|ValueListDef|MethodDef|CommentDef|"
                r"ItemGroupDef)s\[@OID=(\$[A-Za-z_][\w.]*)\]"), r"key('cdiscmap.\1', \2)"),
    (re.compile(r"\$g_seqItemGroupDefs/odm:ItemRef\[@ItemOID=(\$[A-Za-z_][\w.]*)\]"),
     r"key('cdiscmap.GroupItemRef', \1)"),
    # the SUPP--/parent dataset rows name the other dataset's description by a scan of every
    # node of the document (``//``), once per SUPP-- dataset and once per parent: about a
    # third of an SDTM define.html's time at 1,000 subjects; the key is document-wide too
    (re.compile(r"//odm:ItemGroupDef\[@OID = (\$[A-Za-z_][\w.]*)\]"),
     r"key('cdiscmap.ItemGroupDef', \1)"),
    # the Analysis Results Metadata detail finds each analysis variable's ItemDef and dataset
    # by a path scanning every child of the MetaDataVersion, five times per variable: half of
    # the ADaM define.html's time (1,000 subjects: 42 -> 20 CPU-ms with the key)
    (re.compile(r"/odm:ODM/odm:Study/odm:MetaDataVersion/odm:(ItemDef|ItemGroupDef)"
                r"\[@OID=(\$[A-Za-z_][\w.]*)\]"), r"key('cdiscmap.\1', \2)"),
)


def _write_atomic(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data)
