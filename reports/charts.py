"""Server-side charts: matplotlib to inline SVG, drawn beside the table that holds the same numbers.

Text stays text in the SVG (svg.fonttype "none"), so the browser renders
Chinese labels with its own fonts and the chart stays small.
"""

import io
import re
from collections.abc import Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# Chinese glyphs come from whichever CJK font is installed (matplotlib falls back per glyph);
# the browser draws the text itself anyway, this only sizes the labels right.
INSTALLED = {f.name for f in font_manager.fontManager.ttflist}
CJK_FONTS = ["DejaVu Sans"] + [
    name for name in ("Noto Sans CJK SC", "WenQuanYi Zen Hei", "Droid Sans Fallback") if name in INSTALLED
]
STYLE = {
    "svg.fonttype": "none",
    "font.size": 9,
    "font.family": CJK_FONTS,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
GREEN, GREY, ORANGE = "#1d4f3a", "#9aa5a0", "#d9822b"


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return _without_inline_styles(text[text.index("<svg") :])  # drop the XML prolog and doctype to inline it in HTML


def _without_inline_styles(svg: str) -> str:
    """matplotlib's style="fill: x; stroke: y" as SVG presentation attributes (fill="x" stroke="y"), and its <style>
    rule on the root element: the pages' Content-Security-Policy (style-src 'self') refuses inline styles, but not
    attributes, so the chart keeps its look. Text in the chart is escaped by matplotlib, so only its own markup matches.
    """

    def attributes(match: re.Match) -> str:
        pairs = (part.split(":", 1) for part in match.group(1).split(";") if ":" in part)
        return " ".join(f'{name.strip()}="{value.strip()}"' for name, value in pairs)

    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)
    svg = svg.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" ', 1)
    return re.sub(r'style="([^"]*)"', attributes, svg)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str) -> str:
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(6, 0.3 * len(labels) + 1))
        axes.barh(list(labels)[::-1], list(values)[::-1], color=GREEN)
        axes.set_title(title)
        return _svg(figure)


def column_chart(labels: Sequence[str], values: Sequence[float], *, title: str) -> str:
    """Upright bars in the order given: hours of the day read left to right."""
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(7, 3))
        axes.bar(list(labels), list(values), color=GREEN)
        axes.set_title(title)
        return _svg(figure)


def line_chart(days: Sequence[date], series: dict[str, Sequence[float]], *, title: str, markers: bool = False) -> str:
    """One line per series; markers=True marks each point (a few stocktakes are points in time, not a daily line)."""
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(7, 3))
        for (label, values), color in zip(series.items(), (GREEN, GREY, ORANGE), strict=False):
            # Points too: a series of a few stocktakes is a handful of dates, not a daily line.
            axes.plot(
                list(days),
                list(values),
                label=label,
                color=color,
                linewidth=1.5,
                marker="." if len(days) < 40 else None,
            )
        axes.set_title(title)
        axes.legend(frameon=False)
        figure.autofmt_xdate()
        return _svg(figure)


def forecast_chart(
    history_days: Sequence[date],
    history: Sequence[float],
    days: Sequence[date],
    mean: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    *,
    labels: tuple[str, str, str],
) -> str:
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(7, 3))
        axes.plot(list(history_days), list(history), color=GREY, linewidth=1, label=labels[0])
        axes.plot(list(days), list(mean), color=GREEN, linewidth=2, label=labels[1])
        axes.fill_between(list(days), list(lower), list(upper), color=GREEN, alpha=0.2, label=labels[2])
        axes.legend(frameon=False)
        figure.autofmt_xdate()
        return _svg(figure)
