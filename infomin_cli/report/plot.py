"""The leakage/utility trade-off as a PNG (matplotlib, an optional extra: ``pip install '.[plot]'``).

One point per fitted projection (a beta of a sweep, or a method), leakage on x, utility on y;
points of one series are joined in order. Optional horizontal reference lines (the original
embedding's utility, a frontier). Written atomically; the figure never touches an input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infomin_cli.errors import InputError
from infomin_cli.io.writers import atomic_file

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
_DASHES = ("--", ":", "-.")


def series_style(i: int) -> tuple[str, int]:
    """(marker, index into the 20-colour tab20 map) of the i-th series: dark shades first,
    then the light ones; the marker shifts each round of 20, so the first 200 series all
    differ in colour or marker."""
    return _MARKERS[(i + i // 20) % len(_MARKERS)], (2 * i) % 20 + (i // 10) % 2


@dataclass(frozen=True)
class TradeoffPoint:
    series: str  # points of one series are joined (a beta sweep); one point: a marker only
    label: str  # written beside the point (e.g. "β=3")
    leakage: float
    utility: float


def require_matplotlib(path: str | Path) -> None:
    """:class:`InputError` when matplotlib, needed to draw ``path``, is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(f"{path}: drawing a plot needs matplotlib "
                         "(pip install '.[plot]' from a clone of infomin)") from None


def tradeoff_plot(path: str | Path, points: Sequence[TradeoffPoint], *, xlabel: str,
                  ylabel: str, title: str = "", references: dict[str, float] | None = None,
                  xreferences: dict[str, float] | None = None,
                  scatter: frozenset[str] = frozenset(),
                  inputs: tuple[str | Path, ...] = ()) -> Path:
    """Draw ``points`` to ``path`` (PNG). ``references``: label -> utility, drawn as dashed
    horizontal lines (``xreferences``: label -> leakage, vertical lines); series named in
    ``scatter`` are not joined (repeated fits rather than a sweep). Raises
    :class:`InputError` when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(f"{path}: drawing a plot needs matplotlib "
                         "(pip install '.[plot]' from a clone of infomin)") from None
    fig, ax = plt.subplots(figsize=(8.4, 4.4), dpi=120)
    colours = plt.get_cmap("tab20").colors
    try:
        series: dict[str, list[TradeoffPoint]] = {}
        for p in points:
            series.setdefault(p.series, []).append(p)
        for i, (name, pts) in enumerate(series.items()):
            xs, ys = [p.leakage for p in pts], [p.utility for p in pts]
            joined = len(pts) > 1 and name not in scatter
            marker, colour = series_style(i)
            ax.plot(xs, ys, marker=marker, linestyle="-" if joined else "none",
                    color=colours[colour], label=name)
            for p in pts:
                if p.label:
                    ax.annotate(p.label, (p.leakage, p.utility), textcoords="offset points",
                                xytext=(4, 4), fontsize=8)
        refs = [(ax.axhline, k, v) for k, v in (references or {}).items()]
        refs += [(ax.axvline, k, v) for k, v in (xreferences or {}).items()]
        for i, (line, name, value) in enumerate(refs):
            line(value, linestyle=_DASHES[i % len(_DASHES)], linewidth=1,
                 color=str(0.25 + 0.2 * (i % 3)), label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        with atomic_file(path, inputs=inputs) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return Path(path)
