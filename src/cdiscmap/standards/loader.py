"""Load ``specs/`` into :class:`~cdiscmap.standards.models.Standards`.

Layout (written by ``tools/build_specs.py``)::

    specs/<standard>-<version>/<DATASET>.yaml   one dataset each (sdtmig-3.4, adamig-1.3)
    specs/ct/*.yaml, specs/ct/*.json            codelist files (CDISC CT releases, sponsor)

Any file may be YAML (``.yaml``) or JSON (``.json``): the same data. The big SDTM CT file is
JSON because json parses it in C, while PyYAML builds each of its ~100,000 nodes in Python
(seconds instead of a tenth of a second; specs/README.md has the figures).

Every problem is a :class:`StandardsError` that names the file and, where the YAML text
allows, the line, so a broken spec file is found without a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cdiscmap.errors import StandardsError, display_path
from cdiscmap.resources import SPECS_ENV, specs_root
from cdiscmap.spec.yamlload import MAX_ALIAS_VALUES, YamlLimitError, expanded_size
from cdiscmap.standards.models import Codelist, Dataset, Standards

CT_DIR = "ct"
SUFFIXES = (".yaml", ".json")

try:  # the C loader is ~10x faster on the CT files; both give the same data
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


class _GuardedLoader(_Loader):  # type: ignore[valid-type, misc]
    """The safe loader, refusing YAML alias bombs (the limits of :mod:`cdiscmap.spec.yamlload`).

    specs/ is project data, but a broken file must fail in a moment with its name, not expand
    a few lines of aliases into 10**9 values while the models validate it.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.sizes: dict[int, tuple[int, int]] = {}
        self.alias_values = 0

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects:      # only an alias reaches a node twice
            try:
                self.alias_values += expanded_size(node, self.sizes)
            except YamlLimitError as exc:
                raise yaml.constructor.ConstructorError(None, None, str(exc),
                                                        node.start_mark) from None
            if self.alias_values > MAX_ALIAS_VALUES:
                raise yaml.constructor.ConstructorError(
                    None, None, f"YAML aliases expand to more than {MAX_ALIAS_VALUES} values",
                    node.start_mark)
        return super().construct_object(node, deep)


def specs_dir() -> Path:
    """The specs directory: $CDISCMAP_SPECS, else the bundled specs/ (see cdiscmap.resources)."""
    return specs_root()


def load_standards(root: Path | None = None) -> Standards:
    """Load every dataset and codelist under ``root`` (default :func:`specs_dir`); cached."""
    if root is not None:
        return _load_cached(root.resolve())
    env = os.environ.get(SPECS_ENV)
    # a relative $CDISCMAP_SPECS names another folder from another working directory
    cwd = os.getcwd() if env and not os.path.isabs(env) else None
    return _load_cached(_default_dir(env, cwd))


@lru_cache(maxsize=8)
def _default_dir(env: str | None, cwd: str | None) -> Path:
    """:func:`specs_dir`, resolved, once per value of $CDISCMAP_SPECS (and working directory,
    ``cwd``, when that value is relative): callers ask for the default standards again and
    again (the class of each checked dataset: ~40 calls a run), and finding and resolving the
    folder took 0.3 ms a call, the cached load itself nothing. A failure is not cached: the
    next call says it again."""
    return specs_dir().resolve()


@lru_cache(maxsize=8)
def _load_cached(root: Path) -> Standards:
    if not root.is_dir():
        raise StandardsError(f"specs directory {display_path(root)} does not exist")
    datasets: dict[str, Dataset] = {}
    dataset_files: dict[str, Path] = {}
    versions: dict[str, str] = {}
    for path in _files(root.glob("*/*")):
        if path.parent.name == CT_DIR:
            continue
        dataset = _parse(path, Dataset)
        if dataset.name != path.stem:
            raise StandardsError(f"{display_path(path)}: holds dataset {dataset.name}, "
                                 f"but the file is named {path.name}")
        if dataset.name in datasets:
            raise StandardsError(f"dataset {dataset.name} is defined twice: "
                                 f"{display_path(dataset_files[dataset.name])} and "
                                 f"{display_path(path)}")
        datasets[dataset.name] = dataset
        dataset_files[dataset.name] = path
        _add_version(versions, dataset.standard, path)

    codelists: dict[str, Codelist] = {}
    codelist_files: dict[str, Path] = {}
    for path in _files((root / CT_DIR).glob("*")):
        for codelist in _parse_codelist_file(path, versions):
            if codelist.name in codelists:
                raise StandardsError(f"codelist {codelist.name} is defined twice: "
                                     f"{display_path(codelist_files[codelist.name])} and "
                                     f"{display_path(path)}")
            codelists[codelist.name] = codelist
            codelist_files[codelist.name] = path
    if not datasets:
        raise StandardsError(f"no dataset metadata under {display_path(root)}")

    for name, dataset in datasets.items():
        for var in dataset.variables:
            missing = [c for c in var.codelists if c not in codelists]
            if missing:
                raise StandardsError(
                    f"{display_path(dataset_files[name])}: {name}.{var.name} names codelist "
                    f"{', '.join(missing)}, which no file under {display_path(root / CT_DIR)} "
                    "defines"
                )
    # every dataset and codelist is a validated model already, checked against each other
    # above: validating them again inside Standards re-ran their validators (4 ms a load)
    return Standards.model_construct(datasets=dict(sorted(datasets.items())),
                                     codelists=dict(sorted(codelists.items())),
                                     versions=dict(sorted(versions.items())))


def _files(paths: Iterable[Path]) -> list[Path]:
    return sorted(p for p in paths if p.suffix in SUFFIXES and p.is_file())


def _add_version(versions: dict[str, str], standard: str, path: Path) -> None:
    """Record "SDTMIG 3.4" as versions["SDTMIG"] = "3.4"; two versions of one standard clash."""
    family, _, version = standard.rpartition(" ")
    if not family:
        raise StandardsError(f"{display_path(path)}: standard {standard!r} has no version")
    if versions.get(family, version) != version:
        raise StandardsError(f"{display_path(path)}: {standard} mixed with "
                             f"{family} {versions[family]} in one specs directory")
    versions[family] = version


def _parse_codelist_file(path: Path, versions: dict[str, str]) -> list[Codelist]:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise StandardsError(f"{display_path(path)}:1: expected a mapping with 'codelists'")
    for key in ("standard", "version", "codelists"):
        if key not in data:
            raise StandardsError(f"{display_path(path)}:1: missing top-level key {key!r}")
    standard, version = str(data["standard"]), str(data["version"])
    source = standard if standard == "sponsor" else f"{standard} {version}"
    _add_version(versions, f"{standard} {version}", path)
    entries = data["codelists"]
    if not isinstance(entries, list):
        raise StandardsError(f"{display_path(path)}: 'codelists' must be a list")
    out = []
    for index, entry in enumerate(entries):
        try:
            out.append(Codelist.model_validate({**entry, "source": source}))
        except (ValidationError, TypeError) as exc:
            raise _validation_error(path, exc, ("codelists", index)) from None
    return out


# Top-level keys of a dataset file that are about the file, not the dataset.
FILE_KEYS = ("generated", "attribution")


def _parse(path: Path, model: type[Dataset]) -> Dataset:
    data = _read_yaml(path)
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in FILE_KEYS}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(path, exc, ()) from None


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StandardsError(f"{display_path(path)}: cannot read: {exc}") from None
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise StandardsError(f"{display_path(path)}:{exc.lineno}: invalid JSON: "
                                 f"{exc.msg}") from None
    try:
        return yaml.load(text, Loader=_GuardedLoader)  # a safe loader (C or Python)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise StandardsError(f"{display_path(path)}{line}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise StandardsError(f"{display_path(path)}: invalid YAML: {exc}") from None


def _validation_error(path: Path, exc: Exception, prefix: tuple[Any, ...]) -> StandardsError:
    """One line per problem, each with the line of the YAML node it is about."""
    if not isinstance(exc, ValidationError):
        return StandardsError(f"{display_path(path)}: {exc}")
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    problems = []
    for error in exc.errors():
        loc = (*prefix, *error["loc"])
        line = _line_of(root, loc)
        where = ".".join(str(part) for part in loc) or "<file>"
        problems.append(f"{display_path(path)}:{line}: {where}: {error['msg']}")
    return StandardsError("; ".join(problems))


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """1-based line of the deepest YAML node that ``loc`` reaches."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif (isinstance(node, yaml.SequenceNode) and isinstance(part, int)
              and part < len(node.value)):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
