"""Load a study folder: study.yaml plus sdtm/<domain>.yaml, checked before any data is read.

Errors name file:line and the key. Checks beyond the models: the domain file matches its
domain, every variable exists in the standard (or is declared sponsor-defined), every codelist
and form named exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cdiscmap.errors import SpecError, display_path
from cdiscmap.ingest.forms import apply_profile, check_family_forms
from cdiscmap.spec.models import DomainSpec, StudySpec, VariableSpec
from cdiscmap.spec.yamlload import LocatedYaml, load_yaml, validate_located


@dataclass
class LoadedStudy:
    folder: Path
    study: StudySpec
    study_file: str
    study_yaml: LocatedYaml
    domains: dict[str, DomainSpec]
    domain_files: dict[str, str]
    domain_yaml: dict[str, LocatedYaml]
    # form → form-level key → file:line it came from (the form, form_defaults or a profile)
    form_origins: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.folder.name


def load_study(folder: Path | str, *, standard_variables: dict[str, set[str]] | None = None,
               known_codelists: set[str] | None = None) -> LoadedStudy:
    """Read and check a study's mapping specs.

    ``standard_variables`` (dataset → variable names) and ``known_codelists`` come from specs/;
    when given, variables and codelist targets are checked against them.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SpecError(f"study folder {display_path(folder)} not found")
    study_path = folder / "study.yaml"
    # the source profile and form_defaults are merged into the forms before validation
    located, origins = apply_profile(load_yaml(study_path))
    study = validate_located(located, StudySpec)
    study_file = located.file

    if known_codelists is not None:
        # a study codelist with its own terms is a codelist of the study (standards/study.py)
        known_codelists = known_codelists | {n for n, cl in study.codelists.items()
                                             if cl.terms and not cl.extends}
        for name, cl in study.codelists.items():
            if cl.target and cl.target not in known_codelists:
                raise SpecError(f"codelist '{name}' targets '{cl.target}', which is not in "
                                f"specs/ct", study_file,
                                located.line_of(("codelists", name, "target")), "target")

    domains: dict[str, DomainSpec] = {}
    files: dict[str, str] = {}
    yamls: dict[str, LocatedYaml] = {}
    for i, domain in enumerate(study.domains):
        path = folder / "sdtm" / f"{domain.lower()}.yaml"
        if not path.exists():
            raise SpecError(f"domain {domain} is listed but {display_path(path)} does not "
                            f"exist", study_file, located.line_of(("domains", i)), "domains")
        dy = load_yaml(path)
        spec = validate_located(dy, DomainSpec)
        if spec.domain != domain:
            raise SpecError(f"file is for domain {spec.domain}, expected {domain}", dy.file,
                            dy.line_of(("domain",)), "domain")
        _check_domain(spec, dy, study, standard_variables)
        check_family_forms(spec, dy, study)
        if known_codelists is not None:
            _check_domain_codelists(spec, dy, known_codelists)
        domains[domain] = spec
        files[domain] = dy.file
        yamls[domain] = dy
    return LoadedStudy(folder, study, study_file, located, domains, files, yamls, origins)


def _check_domain_codelists(spec: DomainSpec, dy: LocatedYaml, known: set[str]) -> None:
    """Codelists named for checks (overrides, value-level metadata) exist in specs/ct, so a
    typo is a spec error with its line rather than a standards error after the mapping."""
    named = [(("codelist_overrides", var), cl) for var, cl in spec.codelist_overrides.items()]
    named += [(("value_level", i, "codelist"), vl.codelist)
              for i, vl in enumerate(spec.value_level) if vl.codelist is not None]
    for path, name in named:
        if name not in known:
            raise SpecError(f"codelist '{name}' is not in specs/ct", dy.file, dy.line_of(path),
                            "codelist")


def _walk_specs(spec: VariableSpec):
    yield spec
    if spec.when:
        for b in spec.when:
            for sub in (b.then, b.else_):
                if sub is not None:
                    yield from _walk_specs(sub)


def _check_domain(spec: DomainSpec, dy: LocatedYaml, study: StudySpec,
                  standard_variables: dict[str, set[str]] | None) -> None:
    known = standard_variables.get(spec.domain) if standard_variables else None
    entries = [(("variables", n), n, s) for n, s in spec.variables.items()]
    for i, block in enumerate(spec.blocks):
        if block.source.form not in study.forms:
            raise SpecError(f"unknown form '{block.source.form}' (study.yaml forms: "
                            f"{', '.join(sorted(study.forms))})", dy.file,
                            dy.line_of(("blocks", i, "source", "form")), "form")
        for j, join in enumerate(block.source.joins):
            if join.form not in study.forms:
                raise SpecError(f"unknown form '{join.form}'", dy.file,
                                dy.line_of(("blocks", i, "source", "joins", j, "form")), "form")
        entries += [(("blocks", i, "variables", n), n, s) for n, s in block.variables.items()]
    for path, name, var in entries:
        if known is not None and name not in known:
            raise SpecError(f"{name} is not a {spec.domain} variable in SDTMIG 3.4 (specs/); "
                            f"non-standard values belong in SUPP{spec.domain} (supp:)",
                            dy.file, dy.line_of(path), name)
        for sub in _walk_specs(var):
            if sub.assign_ct and sub.assign_ct.codelist not in study.codelists:
                raise SpecError(f"unknown study codelist '{sub.assign_ct.codelist}' "
                                f"(study.yaml codelists: {', '.join(sorted(study.codelists))})",
                                dy.file, dy.line_of(path), name)
    blocks = {b.name for b in spec.blocks}
    for qnam, supp in spec.supp.items():
        for key, named in (("values", list(supp.values)), ("blocks", supp.blocks)):
            for block in named:
                if block not in blocks:
                    raise SpecError(f"SUPP{spec.domain}.{qnam}: no block named {block!r} "
                                    f"(blocks: {', '.join(sorted(blocks))})", dy.file,
                                    dy.line_of(("supp", qnam, key)), qnam)
        if len(qnam) > 8 or not qnam.replace("_", "").isalnum() or not qnam[0].isalpha():
            raise SpecError(f"QNAM '{qnam}' must be ≤ 8 letters/digits starting with a letter "
                            f"(SDTMIG 3.4 §8.4.1)", dy.file, dy.line_of(("supp", qnam)), qnam)
