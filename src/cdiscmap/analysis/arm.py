"""Analysis Results Metadata (CDISC ARM 1.0 for Define-XML 2.1) from the same run's report.

The ADaM define.xml gets, at the end of its MetaDataVersion, ``arm:AnalysisResultDisplays``:
one ``arm:ResultDisplay`` per report table or figure, each with one ``arm:AnalysisResult``
naming the ADaM datasets it reads (``arm:AnalysisDataset``, the records by a
``def:WhereClauseRef``: ADSL the population flag, a BDS dataset its PARAMCDs, ADAE the
treatment-emergent records), the analysis variables, the documentation (title, footnotes,
methods) and the programming statement (the ``cdiscmap report`` call and the analysis.yaml
id). The new ``def:WhereClauseDef`` elements go after the define's own. Only ItemDefs the
define holds are referenced. The result validates against the ARM 1.0 schema that defineutils
ships (``cdisc-arm-1.0/arm1-0-0.xsd``, a redefinition of Define-XML 2.1), and the define2-1.xsl
stylesheet renders it in define.html ("Analysis Results Metadata").

AnalysisReason is SPECIFIED IN SAP for every result (the analyses are those analysis.yaml
prescribes); AnalysisPurpose is PRIMARY OUTCOME MEASURE for the ids listed under
``primary:`` in analysis.yaml, SECONDARY OUTCOME MEASURE otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import etree

from cdiscmap.analysis.report import Report
from cdiscmap.analysis.settings import AnalysisSettings

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
ARM_NS = "http://www.cdisc.org/ns/arm/v1.0"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# what each dataset's analysis reads (kept when the define has the ItemDef)
ANALYSIS_VARIABLES = {
    "ADSL": ["USUBJID"], "ADRS": ["PARAMCD", "AVALC"], "ADTTE": ["PARAMCD", "AVAL", "CNSR"],
    "ADEX": ["PARAMCD", "AVAL"], "ADTR": ["PARAMCD", "PCHG", "ANL02FL"],
    "ADQS": ["PARAMCD", "AVISITN", "ABLFL", "AVAL", "CHG"],
    "ADAE": ["TRTEMFL", "AEBODSYS", "AEDECOD", "ATOXGRN", "AOCCIFL", "AOCCSFL", "AOCCPFL",
             "AOCCSIFL", "AOCCPIFL"],
}


# a figure has no footnotes: its documentation is the method of the dataset it draws
_FIGURE_METHODS = [("ADTTE", "Time to event"), ("ADTR", "Tumour figures")]


def arm_xsd_path() -> Path:
    """The ARM 1.0 schema (over Define-XML 2.1) shipped with defineutils, found without
    importing defineutils (it imports xmlschema: more than a CPU second; only the file is
    used)."""
    from cdiscmap.emit.define import arm_xsd_path as path

    return path()


def _arm_schema() -> etree.XMLSchema:
    """The compiled ARM schema, once per process (parsing the XSDs is a sixth of a second;
    ``emit.define.write_define`` compiles it ahead when ARM is to be added)."""
    from cdiscmap.emit.define import arm_schema

    return arm_schema()


def arm_schema_errors(xml: bytes) -> list[str]:
    """Messages of the ARM 1.0 + Define-XML 2.1 schema; empty when valid."""
    return _tree_errors(etree.fromstring(xml))


def _tree_errors(document: etree._Element) -> list[str]:
    """:func:`arm_schema_errors` of a parsed (or built) define.xml."""
    schema = _arm_schema()
    if schema.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _description(parent: etree._Element, text: str) -> None:
    node = etree.SubElement(parent, _q(ODM_NS, "Description"))
    tt = etree.SubElement(node, _q(ODM_NS, "TranslatedText"))
    tt.set(_q(XML_NS, "lang"), "en")
    tt.text = text


def _sources(rep: Report, display_id: str) -> dict[str, set[str]]:
    """Dataset → PARAMCDs (may be empty) read by a table (its cell traces) or a figure."""
    out: dict[str, set[str]] = {"ADSL": set()}
    for t in rep.tables:
        if t.id == display_id:
            for trace in t.traces.values():
                ds = trace.get("dataset")
                if ds:
                    out.setdefault(ds, set())
                    if trace.get("paramcd"):
                        out[ds].add(str(trace["paramcd"]))
    for f in rep.figures:
        if f.id == display_id:
            for ds, code in f.sources:
                out.setdefault(ds, set())
                if code:
                    out[ds].add(code)
    return out


def add_analysis_results(define_xml: bytes, rep: Report, settings: AnalysisSettings,
                         study_dir: str) -> bytes:
    """The ADaM define.xml with ARM for every table and figure of ``rep``."""
    root = etree.fromstring(define_xml, etree.XMLParser(remove_blank_text=True))
    return _serialised(_with_analysis_results(root, rep, settings, study_dir))


def _serialised(root: etree._Element) -> bytes:
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8",
                          pretty_print=True)


def _with_analysis_results(root: etree._Element, rep: Report, settings: AnalysisSettings,
                           study_dir: str) -> etree._Element:
    """:func:`add_analysis_results` on a define.xml tree without blank text (parsed with
    ``remove_blank_text``, or as ``write_define`` built it), changed in place: ``root`` with
    the arm prefix declared and ARM added."""
    mdv = root.find(f"{_q(ODM_NS, 'Study')}/{_q(ODM_NS, 'MetaDataVersion')}")
    if mdv is None:
        raise ValueError("define.xml has no Study/MetaDataVersion")
    items = {e.get("OID") for e in mdv.iter(_q(ODM_NS, "ItemDef"))}
    groups = {e.get("OID") for e in mdv.iter(_q(ODM_NS, "ItemGroupDef"))}
    # the arm prefix declared on ODM, after its own, used or not (lxml adds a declaration to
    # an element only this way; moving the children under a new root with it took 1.9 ms of
    # the run's serial tail, this 0.7: a define declares every namespace on ODM, so the
    # clean-up finds nothing else to drop)
    etree.cleanup_namespaces(root, top_nsmap={"arm": ARM_NS}, keep_ns_prefixes=["arm"])
    clauses = mdv.findall(_q(DEF_NS, "WhereClauseDef"))
    anchor = clauses[-1] if clauses else None
    first_group = mdv.find(_q(ODM_NS, "ItemGroupDef"))
    pop_of = _population_of(settings)
    primary = set(settings.primary)

    def add_where(oid: str, checks: list[tuple[str, str, list[str]]]) -> bool:
        nonlocal anchor
        checks = [c for c in checks if c[0] in items]
        if not checks:
            return False
        node = etree.Element(_q(DEF_NS, "WhereClauseDef"), OID=oid)
        for item, comparator, values in checks:
            rc = etree.SubElement(node, _q(ODM_NS, "RangeCheck"), Comparator=comparator,
                                  SoftHard="Soft")
            rc.set(_q(DEF_NS, "ItemOID"), item)
            for v in values:
                etree.SubElement(rc, _q(ODM_NS, "CheckValue")).text = v
        if anchor is not None:
            anchor.addnext(node)
        elif first_group is not None:
            first_group.addprevious(node)
        else:
            return False
        anchor = node
        return True

    displays = etree.Element(_q(ARM_NS, "AnalysisResultDisplays"))
    entries = [(t.id, t.title, t.footnotes, t.source) for t in rep.tables] + \
        [(f.id, f.title, [], "") for f in rep.figures]
    for display_id, title, notes, source in entries:
        rd = etree.SubElement(displays, _q(ARM_NS, "ResultDisplay"), OID=f"RD.{display_id}",
                              Name=display_id)
        _description(rd, title)
        spec_id = _analysis_id(display_id, pop_of)
        sources = _sources(rep, display_id)
        bds_codes = sorted(c for cs in sources.values() for c in cs)
        param_ds = next((ds for ds, cs in sorted(sources.items()) if len(cs) == 1), None)
        attrs: dict[str, Any] = {
            "OID": f"AR.{display_id}",
            "AnalysisReason": "SPECIFIED IN SAP",
            "AnalysisPurpose": "PRIMARY OUTCOME MEASURE" if spec_id in primary
            else "SECONDARY OUTCOME MEASURE"}
        if param_ds is not None and len(bds_codes) == 1 and f"IT.{param_ds}.PARAMCD" in items:
            attrs["ParameterOID"] = f"IT.{param_ds}.PARAMCD"
        ar = etree.SubElement(rd, _q(ARM_NS, "AnalysisResult"), **attrs)
        _description(ar, title)
        datasets = etree.SubElement(ar, _q(ARM_NS, "AnalysisDatasets"))
        for ds in sorted(sources):
            if f"IG.{ds}" not in groups:
                continue
            node = etree.SubElement(datasets, _q(ARM_NS, "AnalysisDataset"),
                                    ItemGroupOID=f"IG.{ds}")
            checks: list[tuple[str, str, list[str]]] = []
            if ds == "ADSL" and spec_id in pop_of:
                pop = settings.populations[pop_of[spec_id]]
                checks.append((f"IT.ADSL.{pop.flag}", "EQ", [pop.value]))
            elif ds == "ADAE":
                checks.append(("IT.ADAE.TRTEMFL", "EQ", ["Y"]))
            elif sources[ds]:
                codes = sorted(sources[ds])
                checks.append((f"IT.{ds}.PARAMCD", "EQ" if len(codes) == 1 else "IN", codes))
            oid = f"WC.AR.{display_id}.{ds}"
            if add_where(oid, checks):
                etree.SubElement(node, _q(DEF_NS, "WhereClauseRef"), WhereClauseOID=oid)
            for var in ANALYSIS_VARIABLES.get(ds, []):
                if f"IT.{ds}.{var}" in items:
                    etree.SubElement(node, _q(ARM_NS, "AnalysisVariable"),
                                     ItemOID=f"IT.{ds}.{var}")
        if not len(datasets):
            ar.remove(datasets)
            rd.remove(ar)
            displays.remove(rd)
            continue
        doc = etree.SubElement(ar, _q(ARM_NS, "Documentation"))
        methods = [f"{k}: {rep.methods[k]}." for ds, k in _FIGURE_METHODS
                   if not notes and ds in sources and k in rep.methods]
        _description(doc, " ".join([*notes, *methods, source or "Source: " + ", ".join(
            sorted(sources)) + "."]))
        code = etree.SubElement(ar, _q(ARM_NS, "ProgrammingCode"),
                                Context="cdiscmap (Python 3)")
        etree.SubElement(code, _q(ARM_NS, "Code")).text = (
            f"cdiscmap report {study_dir} --adam adam/   "
            f"# analysis.yaml id {spec_id}; display {display_id}; per-cell trace in "
            f"report/cells.json")
    if len(displays):
        mdv.append(displays)
    return root


def _population_of(settings: AnalysisSettings) -> dict[str, str]:
    """analysis id → its population name."""
    parts = (*settings.demographics, *settings.response, *settings.simon, *settings.survival,
             *settings.safety, *settings.exposure, *settings.disposition, *settings.tumour,
             *settings.change_from_baseline)
    return {p.id: p.population for p in parts}


def _analysis_id(display_id: str, ids: dict[str, str]) -> str:
    """The analysis.yaml id a display comes from (displays are ``<id>`` or ``<id>_<suffix>``;
    the longest matching id wins)."""
    best = ""
    for aid in ids:
        if (display_id == aid or display_id.startswith(aid + "_")) and len(aid) > len(best):
            best = aid
    return best or display_id


def write_analysis_results(adam_folder: Path, rep: Report, settings: AnalysisSettings,
                           study_dir: Path | str, *, html: bool | None = None) -> list[Path]:
    """Add ARM to ``adam_folder/define.xml`` and re-render ``define.html`` (both atomically);
    refused (ValueError, a bug) when the result is not ARM 1.0 schema-valid. ``html``: write
    define.html (default: when the folder has one); returns the paths written."""
    from cdiscmap.emit.atomic import atomic_write_bytes
    from cdiscmap.emit.define import written_define_tree

    path = adam_folder / "define.xml"
    if not path.is_file():
        return []
    if html is None:
        html = (adam_folder / "define.html").is_file()
    define_xml = path.read_bytes()
    files = analysis_results_files(define_xml, rep, settings, study_dir, html=html,
                                   tree=written_define_tree(path, define_xml))
    return [atomic_write_bytes(adam_folder / name, data) for name, data in files.items()]


def analysis_results_files(define_xml: bytes, rep: Report, settings: AnalysisSettings,
                           study_dir: Path | str, *, html: bool,
                           tree: etree._Element | None = None) -> dict[str, bytes]:
    """The ADaM ``define.xml`` with ARM added (and its ``define.html`` when ``html``), as
    bytes by file name, computed without writing. ValueError (a bug) when not ARM 1.0
    schema-valid. ``tree``: ``define_xml`` as an element tree without blank text, which is
    changed (``emit.define.written_define_tree``); else ``define_xml`` is parsed.

    The schema and the stylesheet read the tree the bytes are serialised from, not the
    bytes parsed again (≈ 2 CPU-ms), as ``write_define`` does: the indentation's blank text
    is all it lacks, and neither reads it (tested); on a schema error the bytes are parsed
    for the file's line numbers."""
    from cdiscmap.emit.define import render_define_tree

    study = Path(study_dir)
    shown = f"mappings/{study.name}" if study.parent.name == "mappings" else str(study)
    if tree is None:
        tree = etree.fromstring(define_xml, etree.XMLParser(remove_blank_text=True))
    root = _with_analysis_results(tree, rep, settings, shown)
    xml = _serialised(root)
    errors = _tree_errors(root)
    if errors:
        errors = arm_schema_errors(xml)     # the file's line numbers in the message
    if errors:
        raise ValueError(f"ARM define.xml is not schema-valid: {errors[0]}")
    files = {"define.xml": xml}
    if html:
        files["define.html"] = render_define_tree(root)
    return files
