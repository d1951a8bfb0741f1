"""The issuance-rate chart as SVG, drawn on the server: one bar per municipality (or
prefecture), and the national schedule's expected rate as a line. No chart library, no script.
Every text is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

BAR = 18
GAP = 6
LABEL_W = 130
PLOT_W = 560
VALUE_W = 70
TOP = 34
BOTTOM = 30
STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25)


def _step(top: float) -> float:
    """A round tick step giving at most ten ticks up to ``top``."""
    return next((s for s in STEPS if top / s <= 10), 0.25)


def _month(key: str) -> str:
    """2020-07 → 令和2年7月."""
    year, month = (int(x) for x in key.split("-"))
    era = year - 2018
    return f"令和{'元' if era == 1 else era}年{month}月" if era >= 1 else f"{year}年{month}月"


def rate_chart(rows: Sequence[Mapping[str, Any]], benchmark: Mapping[str, Any] | None) -> Markup:
    """``rows``: {"name", "rate" (0–1 or None), "basis"}; ``benchmark``: {"month", "rate"}."""
    rates = [r["rate"] for r in rows if isinstance(r.get("rate"), (int, float))]
    bench = benchmark["rate"] if benchmark else None
    step = _step(max([*rates, bench or 0, 0.05]))
    top = step * (int(max([*rates, bench or 0, 0.05]) / step) + 1)
    scale = PLOT_W / top
    height = TOP + len(rows) * (BAR + GAP) + BOTTOM
    width = LABEL_W + PLOT_W + VALUE_W
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-label="交付率のグラフ">',
           '<title>交付率（実績、実績報告がない団体は計画の想定）</title>']
    n = round(top / step)
    for i in range(n + 1):
        x = LABEL_W + i * step * scale
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{height - BOTTOM + 4}" class="grid"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP - 10}" class="axis">{i * step:.0%}</text>')
    for i, r in enumerate(rows):
        y = TOP + i * (BAR + GAP)
        name = escape(r["name"])
        out.append(f'<text x="{LABEL_W - 6}" y="{y + BAR - 5}" class="name">{name}</text>')
        rate = r.get("rate")
        if isinstance(rate, (int, float)):
            w = max(rate * scale, 1)
            basis = escape(r.get("basis") or "")
            cls = "bar plan" if r.get("basis") == "計画" else "bar"
            out.append(f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR}" class="{cls}">'
                       f'<title>{name}：{rate:.1%}（{basis}）</title></rect>')
            out.append(f'<text x="{LABEL_W + w + 4:.1f}" y="{y + BAR - 5}" class="value">{rate:.1%}</text>')
        else:
            why = "人口が不明のため算出できません" if r.get("basis") else "提出なし"
            out.append(f'<text x="{LABEL_W + 4}" y="{y + BAR - 5}" class="value none">{why}</text>')
    if bench is not None and benchmark is not None:
        x = LABEL_W + bench * scale
        label = f"国の全体スケジュール（{_month(benchmark['month'])}末）{bench:.1%}"
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{height - BOTTOM + 4}" class="bench"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 8}" class="bench-label">{escape(label)}</text>')
    out.append("</svg>")
    return Markup("\n".join(out))
