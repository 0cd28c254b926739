"""The overview page: the Action Plan in numbers as one HTML page with its charts drawn as inline
SVG on the server (no script, nothing fetched from elsewhere), for machines where OpenSearch
Dashboards cannot run. Every text that comes from data is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from deh_monitoring.domain.targets import Target

BAR_WIDTH = 320


@dataclass(frozen=True)
class TargetLine:
    target: Target
    latest: float | None = None
    latest_year: int | None = None
    source: str | None = None  # of the latest observation, as the partner named it


@dataclass(frozen=True)
class Trend:
    title: str
    points: Sequence[tuple[str, int]]  # (month, count)


@dataclass(frozen=True)
class MapRow:
    key: str
    counts: dict[str, int]  # country -> count


def page(
    targets: Sequence[TargetLine], trends: Sequence[Trend], countries: Sequence[str], rows: Sequence[MapRow]
) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Digital Education Action Plan: overview</title>
<style>
body {{ font-family: sans-serif; margin: 2rem; color: #1b1b1b; }}
section {{ margin-bottom: 2rem; }} h2 {{ border-bottom: 1px solid #ccc; }}
.trends {{ display: flex; flex-wrap: wrap; gap: 1.5rem; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ddd; padding: .2rem .5rem; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
</style></head><body>
<h1>Digital Education Action Plan: overview</h1>
<section id="targets"><h2>Progress towards the EU-level targets</h2>
{"".join(_target(line) for line in targets)}
</section>
<section id="trends"><h2>Activity in the hub, by month</h2><div class="trends">
{"".join(_trend(trend) for trend in trends)}
</div></section>
<section id="knowledge-map"><h2>Where expertise sits: practices by competence and country</h2>
{_map(countries, rows)}
</section>
</body></html>
"""


def _target(line: TargetLine) -> str:
    target = line.target
    low, high = sorted((target.baseline.value, target.target.value))
    span = (high - low) or 1.0

    def x(value: float) -> float:
        return max(0.0, min(1.0, (value - low) / span)) * BAR_WIDTH

    latest = ""
    said = "no observation yet"
    if line.latest is not None:
        progress = target.progress(line.latest)
        latest = f'<rect class="latest" x="{x(line.latest) - 2:.1f}" y="2" width="4" height="20" fill="#c0392b"/>'
        said = f"latest {line.latest:g} {target.unit} ({line.latest_year}, {line.source}), progress {progress:.0%}"
    start, end = sorted((x(target.baseline.value), x(target.target.value)))
    baseline, goal = target.baseline, target.target
    return f"""<figure class="target" data-target="{escape(target.id)}">
<figcaption>{escape(target.text)}</figcaption>
<svg width="{BAR_WIDTH + 20}" height="24" role="img" aria-label="{escape(said)}">
<rect x="0" y="8" width="{BAR_WIDTH}" height="8" fill="#e8e8e8"/>
<rect x="{start:.1f}" y="8" width="{end - start:.1f}" height="8" fill="#9db8d9"/>
{latest}</svg>
<p>baseline {baseline.value:g} ({baseline.year}), target {goal.value:g} by {goal.year}:
<span class="said">{escape(said)}</span></p>
</figure>
"""


def _trend(trend: Trend) -> str:
    height, width = 100, 24 * max(len(trend.points), 1)
    top = max((count for _, count in trend.points), default=0) or 1
    bars = "".join(
        f'<rect x="{n * 24 + 2}" y="{height - count * height / top:.1f}" width="20" '
        f'height="{count * height / top:.1f}" fill="#2e6da4"><title>{escape(month)}: {count}</title></rect>'
        for n, (month, count) in enumerate(trend.points)
    )
    total = sum(count for _, count in trend.points)
    return f"""<figure class="trend"><figcaption>{escape(trend.title)}: <span class="total">{total}</span></figcaption>
<svg width="{width}" height="{height}" role="img" aria-label="{escape(trend.title)}">{bars}</svg></figure>
"""


def _map(countries: Sequence[str], rows: Sequence[MapRow]) -> str:
    if not rows:
        return "<p>No practices published yet.</p>"
    head = "".join(f"<th>{escape(country)}</th>" for country in countries)
    body = "".join(
        f"<tr><td>{escape(row.key)}</td>"
        + "".join(f"<td>{row.counts.get(c, 0) or ''}</td>" for c in countries)
        + "</tr>"
        for row in rows
    )
    return f'<table class="knowledge-map"><tr><th>competence</th>{head}</tr>{body}</table>'
