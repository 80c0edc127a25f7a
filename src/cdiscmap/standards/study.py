"""Study-level codelists from study.yaml ``codelists:`` made part of the study's standards.

Why here: checks, the mapping's ``assign_ct`` identity matching and define.xml all read codelists
from one :class:`~cdiscmap.standards.models.Standards`; a study that defines its own codelist
(``terms:``, e.g. a 5-point causality scale for AEREL) or adds terms to an extensible CDISC
codelist (``extends: LOC``) gets a copy of the standards that holds them
(:meth:`Standards.with_codelists`), so every consumer sees the same lists.
"""

from __future__ import annotations

from cdiscmap.errors import SpecError
from cdiscmap.spec.loader import LoadedStudy
from cdiscmap.standards.models import Codelist, Standards, Term

STUDY_SOURCE = "study"          # Codelist.source of a study.yaml sponsor codelist


def with_study_codelists(standards: Standards, loaded: LoadedStudy) -> Standards:
    """The standards plus the study's sponsor codelists and CT extensions.

    A sponsor codelist may replace a sponsor list of specs/ (sponsor.yaml AEREL), never a CDISC
    CT list: terms are added to CT only through ``extends``, and only to an extensible list
    (CDISC CT: non-extensible lists admit no sponsor terms). Errors name study.yaml:line.
    """
    extra: dict[str, Codelist] = {}
    for key, spec in loaded.study.codelists.items():
        if not spec.terms:
            continue

        def fail(message: str, *path: str, _key: str = key) -> SpecError:
            return SpecError(message, loaded.study_file,
                             loaded.study_yaml.line_of(("codelists", _key, *path)), _key)

        terms = spec.term_list()
        if spec.extends is not None:
            base = extra.get(spec.extends) or standards.codelists.get(spec.extends)
            if base is None:
                raise fail(f"codelist '{key}' extends '{spec.extends}', which is not in "
                           f"specs/ct", "extends")
            if base.external or not base.extensible:
                raise fail(f"codelist '{key}' extends '{spec.extends}', which is "
                           f"{'an external dictionary' if base.external else 'not extensible'}"
                           f"; only an extensible CT codelist takes sponsor terms", "extends")
            known = base.values()
            added = [Term(value=t.value, decode=t.decode, extended=True)
                     for t in terms if t.value not in known]
            extra[base.name] = base.model_copy(update={"terms": [*base.terms, *added]})
            continue
        existing = standards.codelists.get(key)
        if existing is not None and existing.source != "sponsor":
            raise fail(f"codelist '{key}' lists its own terms but {key} is a CDISC CT "
                       f"codelist ({existing.source}); name the study list otherwise, or add "
                       f"terms with 'extends: {key}'", "terms")
        if key in extra:
            raise fail(f"codelist '{key}' is also extended by another study codelist", "terms")
        extra[key] = Codelist(
            name=key, label=spec.name or key, extensible=spec.extensible,
            data_type=spec.datatype, source=STUDY_SOURCE,
            terms=[Term(value=t.value, decode=t.decode) for t in terms])
    return standards.with_codelists(extra) if extra else standards
