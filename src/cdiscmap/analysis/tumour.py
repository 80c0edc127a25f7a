"""Tumour figures: waterfall, spider and swimmer plots, and the numbers behind the waterfall.

- Waterfall: one bar per subject, its best % change of the target-lesion sum from baseline
  (ADTR PARAMCD = SDIAM, ANL02FL = Y: the lowest post-baseline PCHG of a complete sum, see
  ``cdiscmap.adam.adtr``), sorted from the largest increase to the largest decrease, coloured by
  best overall response (ADRS BOR); dashed lines at +20 % and -30 %, the RECIST 1.1 §4.3.1
  thresholds of progression and partial response for the sum (the +20 % line is a guide: PD
  is measured from the nadir, not the baseline).
- Spider: PCHG from baseline over time (ADTR ADY in weeks, ANL01FL = Y), one line per subject
  from 0 % at baseline, coloured by BOR.
- Swimmer: one bar per subject from the first dose (ADSL TRTSDT) over the treatment duration
  (TRTEDT), months; markers at the first response (ADRS per-visit response in the responder
  values), the first progression (per-visit PD) and death (ADSL DTHDT).

Figures are drawn as ``cdiscmap.analysis.figures`` draws (Agg, fixed fonts and SVG salt), so a
rerun writes byte-identical files. Subjects are ordered by value then USUBJID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from cdiscmap.analysis.figures import RC, Figure, _render
from cdiscmap.analysis.groups import (
    Membership,
    filter_text,
    groups,
    population,
    population_text,
)
from cdiscmap.analysis.settings import AnalysisSettings, Tumour
from cdiscmap.analysis.survival import DAYS_PER_MONTH
from cdiscmap.analysis.tables import Table
from cdiscmap.analysis.text import CleanCodes, clean_text, text_eq, text_in
from cdiscmap.analysis.text import as_dates as _dates
from cdiscmap.errors import InputDataError

BOR_COLOURS = {"CR": "#1a9850", "PR": "#91cf60", "SD": "#fee08b", "NON-CR/NON-PD": "#fdae61",
               "PD": "#d73027", "NE": "#999999"}
OTHER_COLOUR = "#bbbbbb"
PR_LINE, PD_LINE = -30.0, 20.0
RASTER_OVER = 500       # subjects above which a figure's bars/lines are an image in the SVG


def _colour(bor: str) -> str:
    return BOR_COLOURS.get(bor, OTHER_COLOUR)


def _colours(bor: pd.Series) -> np.ndarray:
    """:func:`_colour` of each value, vectorised (object array)."""
    return bor.map(BOR_COLOURS).fillna(OTHER_COLOUR).to_numpy(dtype=object)


@dataclass(frozen=True)
class TumourData:
    """Per subject of the population: best % change, BOR; the time courses."""

    best: pd.DataFrame        # USUBJID, PCHG, BOR; sorted as the waterfall draws it
    course: pd.DataFrame      # USUBJID, WEEK, PCHG, BOR (baseline at week 0, 0 %)
    swim: pd.DataFrame        # USUBJID, DUR, RESP, PROG, DEATH (months from TRTSDT; NaN = none)


def _rgba(colours: list[str] | np.ndarray) -> np.ndarray:
    """The RGBA rows matplotlib makes of a list of colour names, converting each distinct
    name once (a list of 10,000 names is converted name by name at every draw)."""
    from matplotlib.colors import to_rgba_array

    codes, names = pd.factorize(np.asarray(colours, dtype=object))
    return to_rgba_array(list(names))[codes] if len(codes) else np.zeros((0, 4))


def _sel(frame: pd.DataFrame, var: str, value: str) -> np.ndarray:
    return text_eq(frame[var], value, upper=True)


def tumour_data(adam: dict[str, pd.DataFrame], subjects: pd.Series, spec: Tumour
                ) -> TumourData:
    """The figures' data from ADTR, ADRS and ADSL for ``subjects``."""
    for name in ("ADTR", "ADRS"):
        if name not in adam:
            raise InputDataError(f"ADaM {name} not found ({spec.id})")
    adsl, adtr, adrs = adam["ADSL"], adam["ADTR"], adam["ADRS"]
    ids = set(subjects.astype(str))

    def rows_of(frame: pd.DataFrame, keep: np.ndarray | slice, columns: list[str]
                ) -> pd.DataFrame:
        """The rows ``keep`` of the subjects, with the columns read below only (copying
        every column of ADRS/ADTR's 100,000s of records costs more than the figures'
        data)."""
        part = frame.loc[keep, [c for c in columns if c in frame.columns]]
        part = part.loc[part["USUBJID"].astype(str).isin(ids).to_numpy(dtype=bool)].copy()
        part["USUBJID"] = part["USUBJID"].astype(str)
        return part

    tr = rows_of(adtr, _sel(adtr, "PARAMCD", spec.paramcd),
                 ["USUBJID", "PCHG", "ADY", "ANL01FL", "ANL02FL", "ABLFL"])
    # the two parameters read below only (BOR and the per-visit response are a quarter of
    # ADRS's records)
    rs = rows_of(adrs, text_in(adrs["PARAMCD"], {spec.bor_paramcd, spec.timepoint_paramcd},
                               upper=True), ["USUBJID", "PARAMCD", "AVALC", "ADT"])
    rs_param = CleanCodes(rs["PARAMCD"], upper=True)     # the two parameters' rows, one pass
    bor = rs.iloc[rs_param.rows(spec.bor_paramcd)].drop_duplicates("USUBJID") \
        .set_index("USUBJID")["AVALC"]
    bor = clean_text(bor, upper=True)

    best = tr.loc[_sel(tr, "ANL02FL", "Y"), ["USUBJID", "PCHG"]].drop_duplicates("USUBJID")
    best = best.assign(PCHG=pd.to_numeric(best["PCHG"], errors="coerce")).dropna(
        subset=["PCHG"])
    best["BOR"] = best["USUBJID"].map(bor).fillna("NE").astype(str)
    best = best.sort_values(["PCHG", "USUBJID"], ascending=[False, True], kind="mergesort") \
        .reset_index(drop=True)

    ok = _sel(tr, "ANL01FL", "Y") if "ANL01FL" in tr.columns else np.ones(len(tr), bool)
    course = tr.loc[ok, ["USUBJID", "ADY", "PCHG"]].copy()
    base = _sel(tr, "ABLFL", "Y")[ok] if "ABLFL" in tr.columns else np.zeros(len(course), bool)
    course["PCHG"] = pd.to_numeric(course["PCHG"], errors="coerce").where(~base, 0.0)
    course["WEEK"] = (pd.to_numeric(course["ADY"], errors="coerce") / 7.0).where(~base, 0.0)
    course = course.dropna(subset=["PCHG", "WEEK"])
    course["BOR"] = course["USUBJID"].map(bor).fillna("NE").astype(str)
    course = course.sort_values(["USUBJID", "WEEK"], kind="mergesort").reset_index(drop=True)

    pop = rows_of(adsl, slice(None), ["USUBJID", "TRTSDT", "TRTEDT", "DTHDT"])
    start = _dates(pop["TRTSDT"])
    end = _dates(pop["TRTEDT"])
    death = _dates(pop["DTHDT"]) if "DTHDT" in pop.columns \
        else pd.Series(pd.NaT, index=pop.index)
    days = lambda d: (d - start).dt.days.astype("float64")  # noqa: E731
    swim = pd.DataFrame({"USUBJID": pop["USUBJID"], "DUR": (days(end) + 1) / DAYS_PER_MONTH,
                         "DEATH": days(death) / DAYS_PER_MONTH})
    tp = rs.iloc[rs_param.rows(spec.timepoint_paramcd)].copy()
    tp["ADT"] = _dates(tp["ADT"])
    tp["VAL"] = clean_text(tp["AVALC"], upper=True)
    first = {}
    for key, values in (("RESP", [v.upper() for v in spec.responders]), ("PROG", ["PD"])):
        hit = tp.loc[tp["VAL"].isin(values).fillna(False).to_numpy(dtype=bool)]
        first[key] = hit.groupby("USUBJID")["ADT"].min()
    trt = pd.Series(start.to_numpy(), index=pop["USUBJID"])
    for key, dates in first.items():
        swim[key] = ((swim["USUBJID"].map(dates) - swim["USUBJID"].map(trt)).dt.days
                     .astype("float64") / DAYS_PER_MONTH)
    swim = swim.loc[swim["DUR"].notna()]
    swim = swim.sort_values(["DUR", "USUBJID"], ascending=[True, True], kind="mergesort") \
        .reset_index(drop=True)
    return TumourData(best, course, swim)


def _legend(ax: object, present: list[str]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=_colour(b), label=b) for b in present]
    ax.legend(handles=handles, title="Best overall response", fontsize=7.5,  # type: ignore[attr-defined]
              title_fontsize=7.5, frameon=False, loc="upper right")


def _order(bors: list[str]) -> list[str]:
    known = [b for b in BOR_COLOURS if b in bors]
    return known + sorted(set(bors) - set(known))


def _rects(x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> np.ndarray:
    """Vertices (n, 4, 2) of axis-aligned rectangles, for one PolyCollection of all bars
    (a ``bar``/``barh`` call makes one Rectangle artist per bar: seconds at thousands)."""
    return np.stack([np.column_stack([x0, y0]), np.column_stack([x0, y1]),
                     np.column_stack([x1, y1]), np.column_stack([x1, y0])], axis=1)


def _rasterize(n: int) -> bool:
    """Draw the per-subject layer as an image inside the SVG when it has more than
    ``RASTER_OVER`` items (the axes, lines and text stay vectors): thousands of SVG paths
    slow the browser and the writer and show nothing a raster at 150 dpi does not."""
    return n > RASTER_OVER


def waterfall_figure(fig_id: str, title: str, best: pd.DataFrame) -> Figure:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    with matplotlib.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        x = np.arange(len(best), dtype=float)
        h = best["PCHG"].to_numpy(float)
        bars = PolyCollection(_rects(x - 0.4, x + 0.4, np.zeros_like(h), h),
                              facecolors=_rgba(_colours(best["BOR"])),
                              edgecolors="none", linewidths=0.0)
        bars.set_rasterized(_rasterize(len(best)))
        ax.add_collection(bars)
        ax.axhline(PD_LINE, color="#555555", linestyle="--", linewidth=0.9)
        ax.axhline(PR_LINE, color="#555555", linestyle="--", linewidth=0.9)
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.set_xlim(-0.8, max(len(best), 1) - 0.2)
        low = min(-100.0, float(best["PCHG"].min()) - 5 if len(best) else -100.0)
        high = max(40.0, float(best["PCHG"].max()) + 5 if len(best) else 40.0)
        ax.set_ylim(low, high)
        ax.set_xticks([])
        ax.set_xlabel(f"Subjects (n={len(best)}), by best change")
        ax.set_ylabel("Best % change from baseline in sum of diameters")
        ax.set_title(title)
        _legend(ax, _order(list(best["BOR"].unique())))
        png, svg = _render(fig)
        plt.close(fig)
    return Figure(fig_id, title, png, svg)


def spider_figure(fig_id: str, title: str, course: pd.DataFrame) -> Figure:
    """One polyline per subject, all in one LineCollection; the markers in one Line2D per
    BOR colour (drawn above the lines)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    with matplotlib.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        # course is sorted by USUBJID, WEEK: each subject's points are one run of rows
        uid = course["USUBJID"].to_numpy(dtype=object)
        xy = np.column_stack([course["WEEK"].to_numpy(float), course["PCHG"].to_numpy(float)])
        starts = np.flatnonzero(np.r_[True, uid[1:] != uid[:-1]]) if len(uid) else \
            np.array([], dtype=int)
        colours = _colours(course["BOR"])
        # each subject's rows as a slice (np.split makes each piece through swapaxes and
        # more checks: a tenth of a second for 9,000 subjects)
        bounds = np.append(starts, len(xy)).tolist()
        lines = LineCollection([xy[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
                               colors=_rgba(colours[starts]), linewidths=1.0)
        lines.set_rasterized(_rasterize(len(starts)))
        # the data limits are those of the markers below, which are every point of the lines
        # (the lines' own extents over thousands of paths add nothing to them)
        ax.add_collection(lines, autolim=False)
        for colour in sorted(set(colours.tolist())):
            sel = colours == colour
            ax.plot(xy[sel, 0], xy[sel, 1], linestyle="none", marker="o", markersize=2.5,
                    color=colour, rasterized=_rasterize(len(starts)))
        ax.axhline(PD_LINE, color="#555555", linestyle="--", linewidth=0.9)
        ax.axhline(PR_LINE, color="#555555", linestyle="--", linewidth=0.9)
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.autoscale_view()
        ax.set_xlabel("Weeks from treatment start (ADTR ADY / 7)")
        ax.set_ylabel("% change from baseline in sum of diameters")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        _legend(ax, _order(list(course["BOR"].unique())))
        png, svg = _render(fig)
        plt.close(fig)
    return Figure(fig_id, title, png, svg)


def swimmer_subjects(swim: pd.DataFrame, max_subjects: int) -> pd.DataFrame:
    """The swimmer's rows: every subject when there are at most ``max_subjects``, else the
    ``max_subjects`` longest treatment durations (ties: the larger USUBJID, the order of
    ``swim``). A bar per subject of thousands is unreadable; the longest durations are the
    ones a swimmer plot is read for (durable responses), and the caption says so."""
    return swim if len(swim) <= max_subjects else swim.iloc[len(swim) - max_subjects:]


def swimmer_figure(fig_id: str, title: str, swim: pd.DataFrame) -> Figure:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    with matplotlib.rc_context(RC):
        n = len(swim)
        fig, ax = plt.subplots(figsize=(7.5, min(2.0 + 0.14 * n, 30.0)))
        fig.subplots_adjust(left=0.24, right=0.97)      # room for the USUBJID labels
        y = np.arange(n, dtype=float)
        dur = swim["DUR"].to_numpy(float)
        bars = PolyCollection(_rects(np.zeros(n), dur, y - 0.35, y + 0.35),
                              facecolors="#9ecae1", edgecolors="none", linewidths=0.0,
                              label="On treatment")
        bars.set_rasterized(_rasterize(n))
        ax.add_collection(bars)
        marks = [("RESP", "^", "#1a9850", "First response"),
                 ("PROG", "s", "#d73027", "First progression"),
                 ("DEATH", "X", "black", "Death")]
        for col, marker, colour, label in marks:
            v = swim[col].to_numpy(float)
            keep = np.isfinite(v)
            ax.plot(v[keep], y[keep], linestyle="none", marker=marker, color=colour,
                    markersize=4.5, label=label)
        ax.autoscale_view()
        ax.set_xlim(left=0.0)
        if n <= 60:
            ax.set_yticks(y)
            ax.set_yticklabels(swim["USUBJID"].tolist(), fontsize=6)
        else:       # no tick per bar: thousands of Tick artists cost seconds, show nothing
            ax.set_yticks([])
        ax.set_ylim(-0.8, max(n, 1) - 0.2)
        ax.set_xlabel("Months from first dose")
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="lower right", fontsize=7.5, frameon=False)
        png, svg = _render(fig)
        plt.close(fig)
    return Figure(fig_id, title, png, svg)


def _undrawn(fig_id: str, title: str, data: pd.DataFrame) -> Figure:
    """A figure's id and title without its image (``draw=False``)."""
    return Figure(fig_id, title, b"", "")


def tumour_report(adam: dict[str, pd.DataFrame], settings: AnalysisSettings, spec: Tumour
                  ) -> tuple[list[Table], list[Figure]]:
    """The waterfall summary table and the figures ``spec.figures`` asks for."""
    return tumour_tables(adam, settings, spec), tumour_figures(adam, settings, spec)


def _population_data(adam: dict[str, pd.DataFrame], settings: AnalysisSettings, spec: Tumour,
                     memo: dict[str, TumourData] | None) -> TumourData:
    """:func:`tumour_data` of the spec's population; once per ``memo`` (one report's frames:
    its tables and figures read the same data)."""
    if memo is not None and spec.id in memo:
        return memo[spec.id]
    pop = population(adam["ADSL"], settings, spec.population)
    data = tumour_data(adam, pop["USUBJID"], spec)
    if memo is not None:
        memo[spec.id] = data
    return data


def tumour_tables(adam: dict[str, pd.DataFrame], settings: AnalysisSettings, spec: Tumour,
                  *, memo: dict[str, TumourData] | None = None) -> list[Table]:
    """The waterfall summary table (without drawing: ``build_report`` draws the figures in
    another process, :func:`tumour_figures`); ``memo``: see :func:`_population_data`."""
    pop = population(adam["ADSL"], settings, spec.population)
    data = _population_data(adam, settings, spec, memo)
    popt = population_text(settings, spec.population)
    table = Table(f"{spec.id}_best", spec.title + ": best % change in target-lesion sum",
                  ["Group", "Subjects with a best change", "Decrease >= 30%",
                   "Increase >= 20%", "Median best % change [min, max]"],
                  footnotes=[f"ADTR PARAMCD = {spec.paramcd}, ANL02FL = 'Y' (lowest "
                             "post-baseline PCHG of a complete sum). RECIST 1.1 §4.3.1 "
                             "thresholds -30% and +20% (the latter from baseline, as a guide)."],
                  source="Source: ADTR, ADRS, ADSL; population " + popt)
    grps = groups(pop, settings, spec.grouping)
    # each subject's best change once, as codes of the groups' subjects: a group's values are
    # an array lookup (not a hash of every subject's USUBJID per group, and a frame per group)
    member = Membership(grps)
    codes = member.codes(data.best["USUBJID"])
    pchg = data.best["PCHG"].to_numpy(float)
    for gi, grp in enumerate(grps):
        v = pchg[member.in_group(gi, codes)]
        down, up = int((v <= PR_LINE).sum()), int((v >= PD_LINE).sum())
        trace = {"dataset": "ADTR", "paramcd": spec.paramcd, "population": popt,
                 "filter": " and ".join(f for f in (filter_text(settings, spec.grouping, grp),
                                                    "ANL02FL = 'Y'") if f), "group": grp.label}
        med = (f"{np.median(v):.1f} [{v.min():.1f}, {v.max():.1f}]" if len(v) else "-")
        table.add_row([grp.label, str(len(v)), str(down), str(up), med],
                      {1: {**trace, "n": len(v)}, 2: {**trace, "n": down, "where": "PCHG <= -30"},
                       3: {**trace, "n": up, "where": "PCHG >= 20"},
                       4: {**trace, "median": float(np.median(v)) if len(v) else None}})
    return [table]


def tumour_figures(adam: dict[str, pd.DataFrame], settings: AnalysisSettings, spec: Tumour,
                   *, draw: bool | Callable[[str], bool] = True,
                   memo: dict[str, TumourData] | None = None) -> list[Figure]:
    """The figures ``spec.figures`` asks for, each with the ADaM sources it reads; with
    ``draw=False`` their ids, titles and sources alone (no image: ARM metadata); ``draw`` a
    function of the figure id: those it says yes to drawn, the others without image
    (``analysis.report.build_report`` draws the figures in two processes); ``memo``: see
    :func:`_population_data`."""
    data = _population_data(adam, settings, spec, memo)
    drawn = draw if callable(draw) else (lambda _: draw)
    figures = []
    if "waterfall" in spec.figures:
        fig_id = f"{spec.id}_waterfall"
        figures.append((waterfall_figure if drawn(fig_id) else _undrawn)(
            fig_id, "Waterfall: best % change in target-lesion sum", data.best))
    if "spider" in spec.figures:
        fig_id = f"{spec.id}_spider"
        figures.append((spider_figure if drawn(fig_id) else _undrawn)(
            fig_id, "Spider: % change in target-lesion sum over time", data.course))
    if "swimmer" in spec.figures:
        shown = swimmer_subjects(data.swim, spec.swimmer_max_subjects)
        title = "Swimmer: treatment duration, response, progression and death"
        if len(shown) < len(data.swim):
            title += (f":\nthe {len(shown)} longest treatment durations of "
                      f"{len(data.swim)} subjects")
        fig_id = f"{spec.id}_swimmer"
        figures.append((swimmer_figure if drawn(fig_id) else _undrawn)(fig_id, title, shown))
    sources = (("ADSL", None), ("ADTR", spec.paramcd), ("ADRS", spec.bor_paramcd))
    swim = sources + (("ADRS", spec.timepoint_paramcd),)
    return [replace(f, sources=swim if f.id.endswith("_swimmer") else sources)
            for f in figures]
