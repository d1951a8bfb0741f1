"""The issuance-rate chart as SVG, drawn on the server: one bar per municipality (or
prefecture), and the national schedule's expected rate as a line. No chart library, no script.
Every text is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

BAR = 18
GAP = 6
LABEL_W = 120
PLOT_W = 420
VALUE_W = 64
TOP = 34


def rate_chart(rows: Sequence[Mapping[str, Any]], benchmark: Mapping[str, Any] | None) -> Markup:
    """``rows``: {"name", "rate" (0–1 or None), "basis"}; ``benchmark``: {"month", "rate"}."""
    rates = [r["rate"] for r in rows if isinstance(r.get("rate"), (int, float))]
    bench = benchmark["rate"] if benchmark else None
    top = max([*rates, bench or 0, 0.05])
    scale = PLOT_W / (top * 1.1)
    height = TOP + len(rows) * (BAR + GAP) + 24
    width = LABEL_W + PLOT_W + VALUE_W
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'aria-label="交付率のグラフ">',
           '<title>市区町村別の交付率（実績、実績報告がない団体は計画の想定）</title>']
    for i in range(0, 11):
        x = LABEL_W + i * top * 1.1 / 10 * scale
        pct = f"{i * top * 1.1 * 10:.0f}%"
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{height - 20}" class="grid"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP - 10}" class="axis">{escape(pct)}</text>')
    for i, r in enumerate(rows):
        y = TOP + i * (BAR + GAP)
        out.append(f'<text x="{LABEL_W - 6}" y="{y + BAR - 5}" class="name">{escape(r["name"])}</text>')
        rate = r.get("rate")
        if isinstance(rate, (int, float)):
            w = max(rate * scale, 1)
            cls = "bar plan" if r.get("basis") == "計画" else "bar"
            out.append(f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR}" class="{cls}">'
                       f'<title>{escape(r["name"])}：{rate:.1%}（{escape(r.get("basis") or "")}）</title></rect>')
            out.append(f'<text x="{LABEL_W + w + 4:.1f}" y="{y + BAR - 5}" class="value">{rate:.1%}</text>')
        else:
            out.append(f'<text x="{LABEL_W + 4}" y="{y + BAR - 5}" class="value">未提出</text>')
    if bench is not None and benchmark is not None:
        x = LABEL_W + bench * scale
        label = f"国の全体スケジュール（{benchmark['month']}）{bench:.1%}"
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{height - 20}" class="bench"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 6}" class="bench-label">{escape(label)}</text>')
    out.append("</svg>")
    return Markup("\n".join(out))
