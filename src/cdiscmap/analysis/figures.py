"""Figures with matplotlib (Agg backend), written as PNG and SVG, byte-identical on rerun.

Determinism: a fixed font (DejaVu Sans, shipped with matplotlib), ``svg.hashsalt`` fixed (SVG
element ids are hashes), and the date/software metadata left out of both files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from cdiscmap.analysis.survival import KmSummary, at_risk

# axes.titley: the title at the top of the axes, where matplotlib's automatic placement puts
# it for these figures (no tick labels above the axes, no offset text on the y axis): the
# automatic placement lays out every tick label of both axes again in the PNG and the SVG
# pass to find that out (≈0.1 CPU-s of the report's six figures); same bytes
RC = {"font.family": "DejaVu Sans", "font.size": 9, "svg.hashsalt": "cdiscmap",
      "svg.fonttype": "path", "path.simplify": False, "figure.dpi": 100, "axes.titley": 1.0}
_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
            "#7f7f7f"]


@dataclass(frozen=True)
class Figure:
    id: str
    title: str
    png: bytes
    svg: str
    # (ADaM dataset, PARAMCD or None) the figure reads: its Analysis Results Metadata
    sources: tuple[tuple[str, str | None], ...] = ()


def _render(fig: object) -> tuple[bytes, str]:
    png, svg = io.BytesIO(), io.StringIO()
    fig.savefig(png, format="png", dpi=150, metadata={"Software": None})  # type: ignore[attr-defined]
    fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})  # type: ignore[attr-defined]
    return png.getvalue(), svg.getvalue()


def km_figure(fig_id: str, title: str, curves: list[tuple[str, KmSummary]],
              xlabel: str = "Months") -> Figure:
    """Kaplan–Meier step curves with censor marks (+) and numbers at risk under the axis."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(RC):
        rows = len(curves)
        fig = plt.figure(figsize=(7.5, 4.2 + 0.22 * rows))
        ax = fig.add_axes((0.28, 0.16 + 0.05 * rows, 0.68, 0.72 - 0.05 * rows))
        tmax = max((float(k.durations.max()) for _, k in curves if len(k.durations)),
                   default=1.0)
        step = 3.0 if tmax <= 36 else 6.0 if tmax <= 72 else 12.0
        ticks = np.arange(0.0, tmax + step, step)
        for i, (label, km) in enumerate(curves):
            colour = _COLOURS[i % len(_COLOURS)]
            x = np.concatenate([[0.0], km.timeline])
            y = np.concatenate([[1.0], km.survival])
            ax.step(x, y, where="post", color=colour, linewidth=1.4, label=f"{label} (n={km.n})")
            cens = km.durations[~km.observed]
            if len(cens):
                idx = np.searchsorted(km.timeline, cens, side="right") - 1
                ys = np.where(idx >= 0, km.survival[np.clip(idx, 0, None)], 1.0)
                ax.plot(cens, ys, linestyle="none", marker="+", markersize=6, color=colour)
            counts = at_risk(km.durations, ticks)
            for t, c in zip(ticks, counts, strict=True):
                fig.text(0.28 + 0.68 * t / ticks[-1], 0.04 + 0.05 * (rows - 1 - i), str(c),
                         ha="center", fontsize=7.5, color=colour)
            fig.text(0.02, 0.04 + 0.05 * (rows - 1 - i), label[:32], fontsize=7.5, color=colour)
        fig.text(0.02, 0.05 + 0.05 * rows, "Number at risk", fontsize=8, weight="bold")
        ax.set_xlim(0, ticks[-1])
        ax.set_xticks(ticks)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Probability without event")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=7.5, frameon=False)
        png, svg = _render(fig)
        plt.close(fig)
    return Figure(fig_id, title, png, svg)
