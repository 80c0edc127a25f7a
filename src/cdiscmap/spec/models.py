"""Pydantic models of the mapping-spec language (study.yaml and sdtm/<domain>.yaml).

Every model refuses unknown keys, so a typo in a spec is an error naming file:line, never a
silently ignored setting. A variable entry names exactly one algorithm; the algorithm names are
the function names in :mod:`cdiscmap.sdtm.vocabulary`.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cached_property
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cdiscmap.sdtm.expressions import Kind as ExprKind
from cdiscmap.sdtm.expressions import check as check_expression
from cdiscmap.sdtm.expressions import parse as parse_expression
from cdiscmap.spec.design import CommentSpec, CustomDomainSpec, RelrecSpec, TrialDesignSpec
from cdiscmap.spec.plausibility import PlausibilitySpec


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile a spec's regular expression as the engine uses it (case-insensitive), so a bad
    one is refused when the spec is loaded, with its file:line, not deep inside a run."""
    try:
        return re.compile(pattern, flags=re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


_GROUP_REF = re.compile(r"\{(\d+)\}")


def check_group_template(template: str, regex: re.Pattern[str], what: str) -> str:
    """A ``{1}``-style template may only name groups its regex has (a missing one would give
    an empty or non-numeric value for every match)."""
    for ref in _GROUP_REF.findall(template):
        if not 1 <= int(ref) <= regex.groups:
            raise ValueError(f"{what} {template!r} uses group {{{ref}}} but {regex.pattern!r} "
                             f"has {regex.groups} group(s)")
    return template


# --------------------------------------------------------------------------- value expressions

class Operand(Strict):
    """A value used inside an algorithm: a raw column, an already derived variable, or a literal."""

    column: str | None = None
    var: str | None = None
    value: str | float | int | None = None

    @model_validator(mode="after")
    def _one(self) -> Operand:
        given = [k for k in ("column", "var", "value") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'column', 'var' or 'value'")
        return self


class Condition(Strict):
    """A row condition. Leaf: an operand plus one test; or a combination (all / any / not)."""

    column: str | None = None
    var: str | None = None
    equals: str | float | int | None = None
    not_equals: str | float | int | None = None
    in_: list[str | float | int] | None = Field(default=None, alias="in")
    blank: bool | None = None
    matches: str | None = None          # regular expression, full match, case-insensitive
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        combos = [k for k in ("all", "any", "not_") if getattr(self, k) is not None]
        leaf_target = [k for k in ("column", "var") if getattr(self, k) is not None]
        tests = [k for k in ("equals", "not_equals", "in_", "blank", "matches")
                 if getattr(self, k) is not None]
        if combos:
            if len(combos) > 1 or leaf_target or tests:
                raise ValueError("a condition is either one of all/any/not or a single test")
            return self
        if len(leaf_target) != 1:
            raise ValueError("a condition names exactly one of 'column' or 'var'")
        if len(tests) != 1:
            raise ValueError("a condition has exactly one test: equals, not_equals, in, blank, "
                             "matches")
        return self

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            compile_regex(value)
        return value


# --------------------------------------------------------------------------- algorithms

class TakeArgs(Strict):
    column: str
    default: str | None = None


class AssignCtArgs(Strict):
    column: str | None = None
    var: str | None = None
    codelist: str                       # a study codelist (study.yaml codelists) name


class DatePartsArgs(Strict):
    """A date collected as separate fields (raw column names); month/day may be absent."""

    year: str
    month: str | None = None
    day: str | None = None


class Iso8601Args(Strict):
    date: str | None = None             # raw column holding the date
    parts: DatePartsArgs | None = None  # or: separate year/month/day columns
    time: str | None = None             # raw column holding HH:MM[:SS]
    # or: a date item of a date-family form (study.yaml forms date_families): its EDC date in
    # the family's format, else its year/month/day parts (ingest/forms.py)
    family: str | None = None
    # collected style (sdtm/dates.py): text DMY, YMD, ISO, DATE9, DATETIME; numbers SAS_DATE
    # (days since 1960-01-01), SAS_DATETIME (seconds since 1960), EXCEL (1900 serial days)
    format: Literal["DMY", "YMD", "ISO", "DATE9", "DATETIME", "SAS_DATE", "SAS_DATETIME",
                    "EXCEL"] = "DMY"

    @model_validator(mode="after")
    def _source(self) -> Iso8601Args:
        if sum(x is not None for x in (self.date, self.parts, self.family)) != 1:
            raise ValueError("give exactly one of 'date' (one column), 'parts' "
                             "({year, month, day} columns) or 'family' (a date-family item)")
        if self.family is not None and ("format" in self.model_fields_set or self.time):
            raise ValueError("a 'family' date takes its format from the form's date_families "
                             "and has no separate 'time'")
        if self.parts is not None and "format" in self.model_fields_set:
            raise ValueError("'format' applies to a 'date' column, not to 'parts'")
        if self.time and self.format in ("DATETIME", "SAS_DATETIME", "EXCEL", "SAS_DATE"):
            raise ValueError(f"format {self.format} takes no separate 'time' column")
        return self


class ConcatArgs(Strict):
    parts: list[Operand]
    sep: str = ""


class WhenBranch(Strict):
    if_: Condition | None = Field(default=None, alias="if")
    then: VariableSpec | None = None
    else_: VariableSpec | None = Field(default=None, alias="else")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _shape(self) -> WhenBranch:
        if self.else_ is not None:
            if self.if_ is not None or self.then is not None:
                raise ValueError("an 'else' branch stands alone")
        elif self.if_ is None or self.then is None:
            raise ValueError("a branch needs 'if' and 'then' (or is a lone 'else')")
        return self


class NumberArgs(Strict):
    column: str | None = None
    var: str | None = None
    default: float | None = None        # used where the source is blank (e.g. too small: 5 mm)


class FromDomainArgs(Strict):
    """A per-subject aggregate of another SDTM domain (e.g. DM.RFXSTDTC from EX.EXSTDTC)."""

    domain: str
    variable: str
    agg: Literal["min", "max", "first", "last", "count", "exists"]
    where: Condition | None = None
    order: list[str] = []               # for first/last: sort variables (default the variable)
    # max/last of a subject whose last record is open (the variable is null there: EXENDTC of
    # a dose still being taken): skip it (the closed records decide), blank (no value yet),
    # cutoff (study.yaml data_cutoff) or start (the latest --STDTC/--ENDTC of the subject,
    # SDTMIG 3.4 DM RFXENDTC). Open = the last record by `order`; without `order`, any record
    # with a null value (docs/mapping-language.md "Data cut-off and open records")
    open_end: Literal["skip", "blank", "cutoff", "start"] = "skip"

    @model_validator(mode="after")
    def _open_end_of_max(self) -> FromDomainArgs:
        if self.open_end != "skip" and self.agg not in ("max", "last"):
            raise ValueError(f"open_end: {self.open_end} applies to agg max or last, not "
                             f"{self.agg}")
        if self.open_end == "start" and not self.variable.endswith("ENDTC"):
            raise ValueError(f"open_end: start reads the --STDTC beside an --ENDTC variable; "
                             f"{self.variable} is not one")
        return self


class StudyDayArgs(Strict):
    dtc: str                            # the --DTC variable of this domain


class EpochArgs(Strict):
    dtc: str


class SeqArgs(Strict):
    by: list[str] = ["USUBJID"]
    order: list[str] = []               # sort keys after 'by'; raw lineage breaks remaining ties


class LobxflArgs(Strict):
    """Last observation before exposure flag (SDTMIG 3.4 --LOBXFL)."""

    by: list[str]                       # e.g. [USUBJID, TRLNKID, TRTESTCD]
    dtc: str                            # the record's date variable
    result: str                         # a record counts only when this variable is not null


class VisitArgs(Strict):
    column: str
    date: str | None = None             # a --DTC variable, to number unscheduled visits


class VariableSpec(Strict):
    """One SDTM variable: exactly one algorithm, plus optional modifiers shared by all."""

    take: str | TakeArgs | None = None
    constant: str | float | int | None = None
    assign_ct: AssignCtArgs | None = None
    iso8601: Iso8601Args | None = None
    concat: ConcatArgs | None = None
    when: list[WhenBranch] | None = None
    number: NumberArgs | None = None
    copy_: str | None = Field(default=None, alias="copy")
    from_domain: FromDomainArgs | None = None
    study_day: StudyDayArgs | None = None
    epoch: EpochArgs | None = None
    seq: SeqArgs | None = None
    visit: VisitArgs | None = None
    visitnum: VisitArgs | None = None
    empty: Literal["char", "num"] | None = None   # an Expected variable that is not collected
    lobxfl: LobxflArgs | None = None
    expr: str | None = None             # an expression (docs/mapping-language.md "Expressions")
    data_cutoff: Literal[True] | None = None   # the study's data cut-off date (study.yaml)
    # modifiers
    case: Literal["upper", "lower", "keep"] = "keep"
    strip: bool = True
    origin: Literal["Collected", "Assigned", "Derived", "Protocol", "Predecessor"] | None = None
    comment: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _bare_constant(cls, data: Any) -> Any:
        # `STUDYID: CRZBASKET` is not allowed: algorithms are always named, but give a clear hint
        if not isinstance(data, dict):
            raise ValueError("a variable entry is a mapping naming one algorithm, e.g. "
                             "{take: COLUMN} or {constant: VALUE}")
        return data

    @field_validator("expr")
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        # parsed and type-checked at load: check-spec names file:line and the column
        return None if value is None else check_expression(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> VariableSpec:
        algos = self.algorithms_given()
        if len(algos) != 1:
            names = ", ".join(ALGORITHMS)
            if not algos:
                raise ValueError(f"no algorithm given; use one of: {names}")
            raise ValueError(f"more than one algorithm given ({', '.join(algos)}); use one")
        return self

    def algorithms_given(self) -> list[str]:
        # only the fields the spec sets can be given (every algorithm's default is None):
        # a set test each instead of reading the 18 fields of each of a study's ≈ 700
        # variables as they are validated
        given = self.model_fields_set
        return [name for name, attr in _ALGORITHM_FIELDS
                if attr in given and getattr(self, attr) is not None]

    @cached_property
    def algorithm(self) -> str:
        # cached: the model is frozen, and the engine asks a variable's algorithm (and args)
        # thousands of times a run (planning, when branches, origins)
        return self.algorithms_given()[0]

    def args(self) -> Any:
        name = self.algorithm
        return getattr(self, "copy_" if name == "copy" else name)


ALGORITHMS = ("take", "constant", "assign_ct", "iso8601", "concat", "when", "number", "copy",
              "from_domain", "study_day", "epoch", "seq", "visit", "visitnum", "empty", "lobxfl",
              "expr", "data_cutoff")
_ALGORITHM_FIELDS = tuple((name, "copy_" if name == "copy" else name) for name in ALGORITHMS)

WhenBranch.model_rebuild()


# --------------------------------------------------------------------------- sources

class FilterSpec(Strict):
    """Rows of the source that are dropped on purpose, with the reason counted in the summary."""

    drop_if: Condition
    reason: str


class JoinSpec(Strict):
    """Look up columns of another raw form (many-to-one on the `on` keys)."""

    form: str
    on: list[str] | str
    columns: list[str]
    prefix: str = ""                    # added to the joined column names
    where: Condition | None = None      # only these rows of the looked-up form
    required: bool = False              # unmatched source rows are dropped (reason given)
    reason: str = "no matching record in the joined form"


class TransposeSpec(Strict):
    """Wide → long: each source row becomes one row per key, columns named from templates.

    ``columns`` maps a new column name to a template with ``{key}``, e.g. ``TL{key}_DIAM``.
    """

    keys: list[str | int]
    key_column: str = "TKEY"
    columns: dict[str, str]
    keep_if: Condition | None = None    # long rows failing it are not records
    reason: str = "no value in any transposed slot"

    @model_validator(mode="after")
    def _templates(self) -> TransposeSpec:
        # a template without {key} reads the same raw column for every key, and a repeated key
        # makes the same records twice: both would pass silently as duplicated data
        fixed = [new for new, template in self.columns.items() if "{key}" not in template]
        if fixed:
            raise ValueError(f"column template(s) {fixed} have no {{key}}: every key would "
                             f"read the same raw column")
        keys = [str(k) for k in self.keys]
        if not keys or len(set(keys)) != len(keys):
            raise ValueError(f"transpose keys must be distinct and at least one: {keys}")
        return self


class FillSpec(Strict):
    """Carry collected attributes to the rows of the same key that leave them blank
    (e.g. a lesion's node flag, recorded at baseline only)."""

    by: list[str]
    columns: list[str]


class SourceSpec(Strict):
    form: str
    filters: list[FilterSpec] = []
    joins: list[JoinSpec] = []
    transpose: TransposeSpec | None = None
    fill: FillSpec | None = None
    post_filters: list[FilterSpec] = []   # applied after transpose/fill


class BlockSpec(Strict):
    """One set of records of a domain, from one raw form."""

    name: str
    source: SourceSpec
    variables: dict[str, VariableSpec] = {}


class SuppSpec(Strict):
    """One SUPP-- qualifier (QNAM): label and origin once, the value for the whole domain
    (``value``, optionally restricted by ``blocks``) or one value per block (``values``: block
    name → algorithm), so one QNAM can gather a qualifier several source forms collect."""

    label: str
    value: VariableSpec | None = None
    values: dict[str, VariableSpec] = {}    # block name → the value in that block
    origin: Literal["Collected", "Assigned", "Derived", "Protocol"] = "Collected"
    evaluator: str | None = None
    blocks: list[str] = []              # blocks it applies to (default: all blocks)

    @model_validator(mode="after")
    def _value_or_values(self) -> SuppSpec:
        if (self.value is None) == (not self.values):
            raise ValueError("give exactly one of 'value' (every block) or 'values' (block "
                             "name → value)")
        if self.values and self.blocks:
            raise ValueError("'blocks' goes with 'value'; the keys of 'values' already name "
                             "the blocks")
        return self

    def value_for(self, block: str) -> VariableSpec | None:
        """The value of the qualifier in a block (None: not recorded in that block)."""
        if self.values:
            return self.values.get(block)
        return self.value if not self.blocks or block in self.blocks else None


class ValueLevelSpec(Strict):
    """Metadata of a variable for the records a where-clause selects (define.xml value-level
    metadata; the codelist is checked on those records only)."""

    variable: str
    where: Condition                    # var: X with equals or in (define.xml EQ / IN)
    codelist: str | None = None         # None: no codelist (e.g. a numeric result as text)
    data_type: Literal["text", "integer", "float"] = "text"

    @model_validator(mode="after")
    def _simple_where(self) -> ValueLevelSpec:
        w = self.where
        if w.var is None or (w.equals is None and w.in_ is None):
            raise ValueError("a value-level where-clause is {var: X, equals: V} or "
                             "{var: X, in: [...]} (define.xml WhereClauseDef EQ / IN)")
        return self

    def where_values(self) -> tuple[str, ...]:
        w = self.where
        return (str(w.equals),) if w.equals is not None else tuple(str(v) for v in w.in_ or [])


class DomainSpec(Strict):
    """mappings/<study>/sdtm/<domain>.yaml"""

    domain: str
    description: str = ""
    blocks: list[BlockSpec]
    variables: dict[str, VariableSpec] = {}
    supp: dict[str, SuppSpec] = {}
    codelist_overrides: dict[str, str] = {}   # variable → codelist for checks (e.g. AETOXGR: TOXGR)
    value_level: list[ValueLevelSpec] = []


# --------------------------------------------------------------------------- study.yaml

class DateFamilySuffixes(Strict):
    """Column-name suffixes of one date item NAME in a family export (NAME_RAW, NAME_INT,
    NAME_YY...). A suffix left out means the export has no such column."""

    raw: str | None = None              # the text the site typed
    imputed: str | None = None          # the date the EDC imputed from a partial entry
    year: str | None = None
    month: str | None = None
    day: str | None = None


class DateFamilySpec(Strict):
    """An EDC's date-family convention: NAME is the EDC's parsed date (in ``format``, an
    ``iso8601`` style), the suffixed columns its typed text, imputed date and parts.

    ``imputed: refuse``: SDTM keeps collected dates only (imputation is an analysis decision),
    so the imputed columns are taken out of the form when it is read, a block naming one is a
    spec error, and a row whose NAME is blank while the imputed date is not is a finding
    (CMAP-RAW0004) naming the row: the collected partial date is in the parts or the typed text.
    """

    format: Literal["DMY", "YMD", "ISO", "DATE9", "DATETIME", "SAS_DATE", "SAS_DATETIME",
                    "EXCEL"] | None = None
    suffixes: DateFamilySuffixes
    imputed: Literal["refuse", "allow"] = "refuse"


def _column_conditions(cond: Condition) -> list[Condition]:
    return [cond] + [leaf for sub in (cond.all or []) + (cond.any or []) +
                     ([cond.not_] if cond.not_ else []) for leaf in _column_conditions(sub)]


class FormRules(Strict):
    """Rules applied once to a raw form right after it is read, before any block reads it:
    ``drop_columns`` → ``rename`` → ``filters`` (counted drops) → date families → key check.
    Shared by a form (study.yaml ``forms``), ``form_defaults`` and source profiles."""

    drop_columns: list[str] | None = None   # e.g. EDC audit columns; absent ones are ignored
    rename: dict[str, str] | None = None    # raw name → name the blocks use; absent ones ignored
    filters: list[FilterSpec] | None = None  # block filter language, on raw columns only
    date_families: DateFamilySpec | None = None

    @field_validator("filters")
    @classmethod
    def _raw_columns_only(cls, value: list[FilterSpec] | None) -> list[FilterSpec] | None:
        for flt in value or []:
            if any(c.var for c in _column_conditions(flt.drop_if)):
                raise ValueError("a form filter tests raw columns ({column: X}); no SDTM "
                                 "variable exists before the blocks run")
        return value

    @field_validator("rename")
    @classmethod
    def _one_to_one(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        targets = list((value or {}).values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"rename gives several columns the name {twice[0]!r}")
        return value


class FormDefaults(FormRules):
    """study.yaml ``form_defaults`` and a profile's ``form_defaults``: every key a form may
    set except its file and the per-file reader options; unset keys fall through."""

    format: Literal["csv", "sas", "xpt", "odm", "excel"] | None = None
    keys: list[str] | None = None
    subject_column: str | None = None
    delimiter: str | None = None
    encoding: str | None = None


class SourceProfile(Strict):
    """A named source profile, ``src/cdiscmap/ingest/profiles/<name>.yaml``: an EDC's export
    conventions declared once (docs/mapping-language.md "Source profiles")."""

    description: str
    form_defaults: FormDefaults


class FormSpec(FormRules):
    file: str                           # relative to the raw folder (--raw); never outside it
    keys: list[str] = []                # raw natural key: duplicates are findings
    subject_column: str = "SUBJECT"
    description: str = ""
    # reader: default from the file suffix (.csv/.tsv/.txt csv, .sas7bdat sas, .xpt xpt,
    # .xml odm, .xlsx/.xlsm excel); options apply to one format each
    format: Literal["csv", "sas", "xpt", "odm", "excel"] | None = None
    item_group: str | None = None       # odm: the ItemGroupOID whose records are the rows
    sheet: str | None = None            # excel: sheet name (default: the only sheet or the
    #                                     sheet named like the form)
    delimiter: str | None = None        # csv: one character (default ",", "\t" for .tsv)
    encoding: str | None = None         # csv: e.g. latin-1, cp1252 (default utf-8)

    @model_validator(mode="after")
    def _reader_options(self) -> FormSpec:
        suffixes = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".sas7bdat": "sas",
                    ".xpt": "xpt", ".xml": "odm", ".xlsx": "excel", ".xlsm": "excel"}
        fmt = self.format or suffixes.get(PurePosixPath(self.file).suffix.lower())
        for key, owner in (("item_group", "odm"), ("sheet", "excel"), ("delimiter", "csv"),
                           ("encoding", "csv")):
            if getattr(self, key) is not None and fmt != owner:
                raise ValueError(f"'{key}' applies to format {owner}, and this form is "
                                 f"{fmt or 'of unknown format (give format)'}")
        if fmt == "odm" and not self.item_group:
            raise ValueError("an ODM form names its ItemGroupOID: item_group: IG.XX")
        if self.delimiter is not None and (len(self.delimiter) != 1 or
                                           self.delimiter in "\"\r\n"):
            raise ValueError(f"delimiter {self.delimiter!r} must be one character, not a quote "
                             "or line end")
        return self

    def reader_options(self) -> dict[str, str | None]:
        """The keyword options of ``ingest.read_form`` for this form."""
        return {"format": self.format, "item_group": self.item_group, "sheet": self.sheet,
                "delimiter": self.delimiter, "encoding": self.encoding}

    @field_validator("file")
    @classmethod
    def _inside_raw_folder(cls, value: str) -> str:
        # Refused as written, before any data is read; ingest.readers.read_form checks again
        # after resolving symbolic links.
        if not value.strip() or "\0" in value:
            raise ValueError("a form file is a file name inside the raw folder, not blank")
        if "\\" in value:
            raise ValueError(f"form file {value!r}: use '/' between folders, not '\\'")
        if PurePosixPath(value).is_absolute() or PureWindowsPath(value).drive:
            raise ValueError(f"form file {value!r} is an absolute path; give it relative to "
                             "the raw folder (--raw)")
        if ".." in PurePosixPath(value).parts:
            raise ValueError(f"form file {value!r} leaves the raw folder ('..'); raw forms "
                             "are read only from inside --raw")
        return value


class SponsorTerm(Strict):
    """A term of a study codelist: the submission value and, optionally, its decode (written
    as the define.xml CodeListItem Decode)."""

    value: str
    decode: str | None = None

    @field_validator("value")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip() or value != value.strip():
            raise ValueError(f"term {value!r}: a submission value is not blank and has no "
                             "leading or trailing blanks")
        return value


class CodelistMapSpec(Strict):
    """A study codelist: collected text → submission value, checked against a CT codelist.

    With ``terms`` and no ``extends`` the study codelist is itself a sponsor codelist (its key
    is its name in define.xml); with ``extends: LOC`` its terms are added to that extensible CT
    codelist for the whole study (define.xml marks them def:ExtendedValue)."""

    target: str | None = None           # CT/sponsor codelist the result must belong to
    terms: list[str | SponsorTerm] = []   # submission values of a sponsor list or extension
    extends: str | None = None          # an extensible CT codelist the terms are added to
    name: str | None = None             # define.xml CodeList Name of a sponsor list
    datatype: Literal["text", "integer", "float"] = "text"
    extensible: bool = False            # a sponsor list that admits other values
    map: dict[str, str] = {}
    patterns: list[tuple[str, str]] = []  # (regex, replacement) tried after map, e.g. "GRADE (\d)"
    identity: bool = True               # a collected value that is already a term is kept
    on_unmapped: Literal["keep", "null", "default"] = "keep"
    default: str | None = None          # the term unmapped values become (on_unmapped: default)

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for pattern, replacement in value:
            regex = compile_regex(pattern)
            try:    # re parses the replacement before looking for a match
                regex.sub(replacement, "")
            except (re.error, IndexError) as exc:
                raise ValueError(f"invalid replacement {replacement!r} for {pattern!r}: "
                                 f"{exc}") from None
        return value

    @model_validator(mode="after")
    def _default_given(self) -> CodelistMapSpec:
        if (self.on_unmapped == "default") != (self.default is not None):
            raise ValueError("'default' is given exactly when on_unmapped is 'default'")
        return self

    @model_validator(mode="after")
    def _sponsor_terms(self) -> CodelistMapSpec:
        if self.target is not None and (self.terms or self.extends):
            raise ValueError("'target' is for mapping onto an existing codelist; a codelist "
                             "with 'terms' or 'extends' is its own target")
        if self.extends is not None and not self.terms:
            raise ValueError(f"'extends: {self.extends}' needs the 'terms' it adds")
        own = [k for k in ("name", "datatype", "extensible") if k in self.model_fields_set]
        if own and (not self.terms or self.extends):
            raise ValueError(f"{', '.join(own)} describe a sponsor codelist: give 'terms' "
                             "(and no 'extends')")
        values = [t.value for t in self.term_list()]
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise ValueError(f"terms listed twice: {', '.join(twice)}")
        if self.datatype != "text":
            for v in values:
                try:
                    number = float(v)
                except ValueError:
                    raise ValueError(f"term {v!r} is not a number (datatype "
                                     f"{self.datatype})") from None
                if self.datatype == "integer" and not number.is_integer():
                    raise ValueError(f"term {v!r} is not a whole number (datatype integer)")
        return self

    def term_list(self) -> list[SponsorTerm]:
        """The terms as SponsorTerm (a bare string is a term without decode)."""
        return [SponsorTerm(value=t) if isinstance(t, str) else t for t in self.terms]

    def target_of(self, key: str) -> str | None:
        """The codelist values are checked against: ``target``, the extended CT codelist, or
        the study codelist itself (``key``) when it lists its own terms."""
        if self.extends:
            return self.extends
        if self.terms:
            return key
        return self.target


class VisitExpr(Strict):
    """A VISIT or VISITNUM computed per record from the raw form's own fields (an expression,
    docs/mapping-language.md "Expressions"), e.g. FolderSeq + InstanceRepeatNumber / 100."""

    expr: str

    @field_validator("expr")
    @classmethod
    def _expression(cls, value: str) -> str:
        parsed = parse_expression(value)
        if parsed.variables:
            raise ValueError(f"visit rules are study-wide and read raw fields only; "
                             f"var({sorted(parsed.variables)[0]}) is not available here")
        return value


class VisitRule(Strict):
    match: str                          # regex (full, case-insensitive) on the collected visit
    visit: str | VisitExpr              # template with {1}.. groups, e.g. "WEEK {1}", or expr
    visitnum: float | str | VisitExpr | None = None  # number, template "{1}", or expr
    # an unscheduled visit without visitnum is numbered from the subject's calendar (previous
    # scheduled + .01); with a visitnum it keeps the rule's number
    unscheduled: bool = False

    @model_validator(mode="after")
    def _templates(self) -> VisitRule:
        regex = compile_regex(self.match)
        if isinstance(self.visit, VisitExpr):
            if parse_expression(self.visit.expr).kind is ExprKind.NUM:
                raise ValueError(f"visit {self.visit.expr!r} gives a number; VISIT is text "
                                 "(write text(...))")
        else:
            check_group_template(self.visit, regex, "visit")
        if isinstance(self.visitnum, VisitExpr):
            if parse_expression(self.visitnum.expr).kind is ExprKind.TEXT:
                raise ValueError(f"visitnum {self.visitnum.expr!r} gives text; VISITNUM is a "
                                 "number (write number(...))")
        elif isinstance(self.visitnum, str):
            check_group_template(self.visitnum, regex, "visitnum")
            try:    # every group stands for digits: the filled template must be a number
                float(_GROUP_REF.sub("1", self.visitnum))
            except ValueError:
                raise ValueError(f"visitnum {self.visitnum!r} is not a number once its "
                                 f"groups are filled") from None
        return self


class EpochRule(Strict):
    epoch: str
    start: str | None = None            # DM variable; on/after it (None: from the beginning)
    end: str | None = None              # DM variable; on/before it (None: open)
    before_start: bool = False          # strictly before `start` (for SCREENING)


class TrialSummaryEntry(Strict):
    """One TS parameter (SDTMIG 3.4 §7.6.1 TS); `derive` computes the value from the data."""

    parmcd: str
    value: str | None = None
    # DCUTDTC / DCUTDESC: study.yaml data_cutoff (the one cut-off date of the study)
    derive: Literal["ACTSUB", "SSTDTC", "SENDTC", "DCUTDTC", "DCUTDESC"] | None = None
    code: str | None = None             # TSVALCD (e.g. an NCI C-code)
    code_ref: str | None = None         # TSVCDREF (e.g. CDISC CT, UNII, SNOMED)
    code_version: str | None = None     # TSVCDVER
    # TSVALNF: why there is no value (SDTMIG 3.4 §7.6.1; ISO 21090 null flavours NA, UNK, NI,
    # PINF, ...), for a parameter FDA requires whose value the protocol does not give
    null_flavor: Literal["NI", "NA", "UNK", "NASK", "ASKU", "NAV", "OTH", "PINF", "NINF",
                         "MSK"] | None = None

    @model_validator(mode="after")
    def _value_or_derive(self) -> TrialSummaryEntry:
        given = [k for k in ("value", "derive", "null_flavor") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'value', 'derive' or 'null_flavor'")
        return self


class DataCutoffSpec(Strict):
    """study.yaml ``data_cutoff:``: the date the data were cut (SDTMIG 3.4 §7.6.1 TS DCUTDTC).

    One date feeds TS DCUTDTC/DCUTDESC (``derive``), the ``data_cutoff`` algorithm (e.g.
    RFENDTC of a subject still on treatment), ``from_domain`` ``open_end: cutoff``, the open
    end of an epoch and the after-cut-off plausibility check (docs/conventions.md)."""

    date: date
    description: str | None = None      # TS DCUTDESC


class DemoSpec(Strict):
    generator: str
    subjects: int = 150
    seed: int = 20140701


# STUDYID names the output folder (<out>/<STUDYID>) and is a value in every dataset: letters,
# digits, '-', '_' and '.', starting with a letter or digit (so never '.', '..' or a hidden
# name), no path separator, at most 64 characters.
STUDYID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# A listed domain names its spec (sdtm/<domain>.yaml) and its output files (<domain>.xpt): an
# SDTM dataset name, capital letters and digits starting with a letter, at most 8 characters
# (SAS V5 transport member names).
DOMAIN_PATTERN = re.compile(r"[A-Z][A-Z0-9]{1,7}")


class StudySpec(Strict):
    """mappings/<study>/study.yaml"""

    studyid: str
    title: str
    protocol: str = ""
    standards: dict[str, str]
    output_timestamp: str = "2000-01-01T00:00:00"
    demo: DemoSpec | None = None
    forms: dict[str, FormSpec]
    codelists: dict[str, CodelistMapSpec] = {}
    visits: list[VisitRule] = []
    epochs: list[EpochRule] = []
    non_ascii: Literal["transliterate", "error"] = "transliterate"
    long_text: Literal["supp", "error"] = "supp"
    domains: list[str]                  # execution/emit order of SDTM domains
    rs_computed: bool = False           # also emit RECIST-engine responses as RS records
    recist: dict[str, Any] = {}         # RecistSettings overrides
    # VISITs at which lesions are identified anew (e.g. a rechallenge baseline): each starts a
    # new RECIST series with its own baseline and nadir
    recist_rebaseline: list[str] = []
    trial_summary: list[TrialSummaryEntry] = []   # TS records (trial design)
    # TE/TA/TV/TI, RELREC, CO and custom domains (spec/design.py, docs/mapping-language.md)
    trial_design: TrialDesignSpec | None = None
    relrec: list[RelrecSpec] = []
    comments: list[CommentSpec] = []
    custom_domains: dict[str, CustomDomainSpec] = {}
    plausibility: PlausibilitySpec | None = None  # PL rule settings (checks/plausibility.py)
    data_cutoff: DataCutoffSpec | None = None     # the study's one data cut-off date
    # source profile (src/cdiscmap/ingest/profiles/<name>.yaml) and study-wide form defaults:
    # merged into every form by spec.loader before validation (profile < form_defaults < form)
    profile: str | None = None
    form_defaults: FormDefaults | None = None

    @field_validator("studyid")
    @classmethod
    def _studyid_is_a_folder_name(cls, value: str) -> str:
        if not STUDYID_PATTERN.fullmatch(value) or ".." in value:
            raise ValueError(f"studyid {value!r} must be 1-64 letters, digits, '-', '_' or "
                             "'.', starting with a letter or digit and without '..': it names "
                             "the output folder <out>/<STUDYID>")
        return value

    @field_validator("domains")
    @classmethod
    def _domains_are_dataset_names(cls, value: list[str]) -> list[str]:
        for domain in value:
            if not DOMAIN_PATTERN.fullmatch(domain):
                raise ValueError(f"domain {domain!r} must be 2-8 capital letters or digits "
                                 "starting with a letter: it names sdtm/<domain>.yaml and the "
                                 "dataset files")
        return value

    @model_validator(mode="after")
    def _one_cutoff(self) -> StudySpec:
        # one cut-off date per study: TS, DM reference dates, EPOCH and the plausibility check
        # must not disagree (docs/conventions.md "Subjects ongoing at the data cut-off")
        cut = self.data_cutoff
        for entry in self.trial_summary:
            if entry.derive in ("DCUTDTC", "DCUTDESC") and cut is None:
                raise ValueError(f"TS {entry.parmcd} derive: {entry.derive} needs study.yaml "
                                 "data_cutoff: {date: YYYY-MM-DD}")
            if entry.parmcd == "DCUTDTC" and cut is not None and entry.derive != "DCUTDTC":
                raise ValueError(f"TS DCUTDTC must be derive: DCUTDTC when study.yaml "
                                 f"declares data_cutoff ({cut.date.isoformat()})")
        if cut is not None and self.plausibility is not None \
                and self.plausibility.data_cutoff not in (None, cut.date):
            raise ValueError(f"plausibility.data_cutoff {self.plausibility.data_cutoff} differs "
                             f"from data_cutoff {cut.date}; give the date once (data_cutoff)")
        return self
