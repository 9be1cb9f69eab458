"""Bar charts as inline SVG, drawn on the server: no script, nothing to load, and
the strict CSP holds (colours come from the stylesheet through classes). Each chart
is an image with a title and a description for screen readers; the page shows the
same figures in a table beside it."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 640
BAR_GAP = 4


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    return ((value + magnitude - 1) // magnitude) * magnitude


def columns(chart_id: str, title: str, items: list[tuple[str, int]], *, height: int = 200, label_every: int = 1) -> Markup:
    """Vertical bars, one per item (hours of the day, scores)."""
    top = _nice_max(max((v for _, v in items), default=0))
    left, bottom = 36, 24
    plot_w, plot_h = WIDTH - left - 8, height - bottom - 8
    step = plot_w / max(len(items), 1)
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" focusable="false">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(", ".join(f"{k}: {v}" for k, v in items))}</desc>',
        f'<line class="chart-axis" x1="{left}" y1="{8 + plot_h}" x2="{WIDTH - 8}" y2="{8 + plot_h}"/>',
        f'<text class="chart-tick" x="{left - 4}" y="14" text-anchor="end">{top}</text>',
        f'<text class="chart-tick" x="{left - 4}" y="{8 + plot_h}" text-anchor="end">0</text>',
    ]
    for i, (label, value) in enumerate(items):
        bar_h = plot_h * value / top if top else 0
        x = left + i * step + BAR_GAP / 2
        y = 8 + plot_h - bar_h
        parts.append(
            f'<rect class="chart-bar" x="{x:.1f}" y="{y:.1f}" width="{max(step - BAR_GAP, 1):.1f}" height="{bar_h:.1f}"/>'
        )
        if i % label_every == 0:
            parts.append(
                f'<text class="chart-label" x="{x + (step - BAR_GAP) / 2:.1f}" y="{height - 8}" text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(chart_id: str, title: str, items: list[tuple[str, int]]) -> Markup:
    """Horizontal bars with their label and value (channels)."""
    row_h, label_w = 28, 160
    height = max(len(items), 1) * row_h + 8
    top = max((v for _, v in items), default=0) or 1
    plot_w = WIDTH - label_w - 60
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" focusable="false">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(", ".join(f"{k}: {v}" for k, v in items) or "sin datos")}</desc>',
    ]
    for i, (label, value) in enumerate(items):
        y = 4 + i * row_h
        width = plot_w * value / top
        parts.append(f'<text class="chart-label" x="{label_w - 8}" y="{y + 18}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect class="chart-bar" x="{label_w}" y="{y + 4}" width="{width:.1f}" height="{row_h - 8}"/>')
        parts.append(f'<text class="chart-value" x="{label_w + width + 6:.1f}" y="{y + 18}">{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
