"""Server-side SVG charts for the quality dashboards: no script, no CDN, nothing inline to
relax the Content-Security-Policy for (colours come from classes in quality.css).

Every builder returns one ``<figure>``: the SVG (``role="img"`` with a ``<title>`` and an
``aria-label`` that sums the chart up) and, beside it, a visually hidden table of the same
numbers for screen readers. Every label passes through ``format_html``, so a question label
or a date string can never inject markup. With nothing to draw a builder returns the empty
state instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# Charts in a half-width card; horizontal bars and the gauge fill a full-width one.
WIDTH = 520
HEIGHT = 230
WIDE = 960
# Plot margins: room for the y axis' labels on the left and the x axis' below.
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 30
ROW_HEIGHT = 32
LABEL_WIDTH = 260
SQUARE = 340
# Count axes go at least this high, so one or two items do not get half-unit ticks.
MIN_COUNT_AXIS = 2


@dataclass(frozen=True)
class Series:
    """One line of a line chart: its name and a value per x label."""

    label: str
    values: Sequence[float]


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: the label, the value drawn (None: not computable) and a note."""

    label: str
    value: float | None
    note: str = ""


# Pieces -------------------------------------------------------------------------------------


def _join(parts: Iterable[SafeString | str]) -> SafeString:
    """Concatenate pieces, escaping any that are not already safe."""
    return format_html_join("", "{}", ((part,) for part in parts))


def _number(value: float) -> str:
    """An SVG coordinate: short and locale-free."""
    return f"{value:.1f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _count(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _svg(
    chart_id: str, title: str, summary: str, width: int, height: int, body: SafeString
) -> SafeString:
    return format_html(
        '<svg class="chart-svg" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'aria-describedby="{}-table" preserveAspectRatio="xMidYMid meet" focusable="false">'
        '<title id="{}-title">{}</title>{}</svg>',
        width,
        height,
        f"{title}. {summary}",
        chart_id,
        chart_id,
        title,
        body,
    )


def _table(
    chart_id: str, caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]]
) -> SafeString:
    head = format_html_join("", '<th scope="col">{}</th>', ((header,) for header in headers))
    body = _join(
        format_html(
            '<tr><th scope="row">{}</th>{}</tr>',
            row[0],
            format_html_join("", "<td>{}</td>", ((cell,) for cell in row[1:])),
        )
        for row in rows
    )
    return format_html(
        '<table class="visually-hidden" id="{}-table"><caption>{}</caption>'
        "<thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
        chart_id,
        caption,
        head,
        body,
    )


def _figure(
    kind: str, svg: SafeString, table: SafeString, legend: SafeString | str = ""
) -> SafeString:
    return format_html(
        '<figure class="chart chart-{}" data-chart="{}">{}{}{}</figure>',
        kind,
        kind,
        svg,
        legend,
        table,
    )


def empty_chart(message: str) -> SafeString:
    return format_html('<p class="chart-empty muted">{}</p>', message)


def _y_axis(
    top: float, bottom: float, left: float, right: float, ticks: Sequence[tuple[float, str]]
) -> SafeString:
    """Horizontal grid lines with their labels; ``ticks`` are (fraction 0..1, label)."""
    return _join(
        format_html(
            '<line class="chart-gridline" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
            '<text class="chart-tick" x="{}" y="{}" text-anchor="end">{}</text>',
            _number(left),
            _number(bottom - fraction * (bottom - top)),
            _number(right),
            _number(bottom - fraction * (bottom - top)),
            _number(left - 6),
            _number(bottom - fraction * (bottom - top) + 4),
            label,
        )
        for fraction, label in ticks
    )


def _x_label(x: float, y: float, label: str, anchor: str = "middle") -> SafeString:
    return format_html(
        '<text class="chart-tick" x="{}" y="{}" text-anchor="{}">{}</text>',
        _number(x),
        _number(y),
        anchor,
        label,
    )


def _sparse_positions(count: int, wanted: int = 6) -> list[int]:
    """Indices of at most ``wanted`` evenly spread x labels, always the first and the last."""
    if count <= wanted:
        return list(range(count))
    step = (count - 1) / (wanted - 1)
    return sorted({round(step * n) for n in range(wanted)})


# Charts -------------------------------------------------------------------------------------


def line_chart(
    *,
    chart_id: str,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    empty: str = "Nothing to show yet.",
) -> SafeString:
    """Lines over the x labels (days), the first one with its area filled."""
    if not x_labels or not series or not any(any(s.values) for s in series):
        return empty_chart(empty)
    top_value = nice_ceiling(max(MIN_COUNT_AXIS, *(max(s.values, default=0) for s in series)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h
    count = len(x_labels)

    def point(index: int, value: float) -> tuple[float, float]:
        x = LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)
        return x, bottom - plot_h * value / top_value

    parts = [
        _y_axis(TOP, bottom, LEFT, WIDTH - RIGHT, [(f, _count(top_value * f)) for f in (0, 0.5, 1)])
    ]
    for number, line in enumerate(series):
        points = [point(i, v) for i, v in enumerate(line.values)]
        path = " ".join(f"{_number(x)},{_number(y)}" for x, y in points)
        if number == 0:
            area = (
                f"{_number(points[0][0])},{_number(bottom)} {path} "
                f"{_number(points[-1][0])},{_number(bottom)}"
            )
            parts.append(format_html('<polygon class="chart-area" points="{}"></polygon>', area))
        parts.append(
            format_html(
                '<polyline class="chart-line chart-series-{}" points="{}"></polyline>', number, path
            )
        )
        last_x, last_y = points[-1]
        parts.append(
            format_html(
                '<circle class="chart-dot chart-series-{}" cx="{}" cy="{}" r="3"></circle>',
                number,
                _number(last_x),
                _number(last_y),
            )
        )
    parts += [
        _x_label(
            point(i, 0)[0],
            HEIGHT - 8,
            x_labels[i],
            "start" if i == 0 else "end" if i == count - 1 else "middle",
        )
        for i in _sparse_positions(count)
    ]
    latest = ", ".join(f"{s.label}: {_count(s.values[-1])}" for s in series)
    summary = f"From {x_labels[0]} to {x_labels[-1]}. Latest {latest}."
    legend = format_html(
        '<ul class="chart-legend">{}</ul>',
        format_html_join(
            "",
            '<li><span class="chart-key chart-series-{}" aria-hidden="true"></span>{}</li>',
            ((n, s.label) for n, s in enumerate(series)),
        ),
    )
    table = _table(
        chart_id,
        title,
        ["Day", *[s.label for s in series]],
        ([label, *[_count(s.values[i]) for s in series]] for i, label in enumerate(x_labels)),
    )
    return _figure(
        "line", _svg(chart_id, title, summary, WIDTH, HEIGHT, _join(parts)), table, legend
    )


def bar_chart(
    *,
    chart_id: str,
    title: str,
    bars: Sequence[tuple[str, float]],
    value_label: str = "Count",
    empty: str = "Nothing to show yet.",
) -> SafeString:
    """Vertical bars, one per label (a day), sparse x labels."""
    if not bars or not any(value for _, value in bars):
        return empty_chart(empty)
    top_value = nice_ceiling(max(MIN_COUNT_AXIS, *(value for _, value in bars)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h
    slot = plot_w / len(bars)
    gap = min(4.0, slot * 0.2)
    parts = [
        _y_axis(TOP, bottom, LEFT, WIDTH - RIGHT, [(f, _count(top_value * f)) for f in (0, 0.5, 1)])
    ]
    for index, (label, value) in enumerate(bars):
        height = plot_h * value / top_value
        parts.append(
            format_html(
                '<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}: {}</title></rect>",
                _number(LEFT + index * slot + gap / 2),
                _number(bottom - height),
                _number(slot - gap),
                _number(height),
                label,
                _count(value),
            )
        )
    parts += [
        _x_label(LEFT + (i + 0.5) * slot, HEIGHT - 8, bars[i][0])
        for i in _sparse_positions(len(bars))
    ]
    total = sum(value for _, value in bars)
    busiest = max(bars, key=lambda bar: bar[1])
    summary = (
        f"{_count(total)} in total from {bars[0][0]} to {bars[-1][0]}; "
        f"the most on {busiest[0]} ({_count(busiest[1])})."
    )
    table = _table(chart_id, title, ["Day", value_label], ([day, _count(v)] for day, v in bars))
    return _figure("bars", _svg(chart_id, title, summary, WIDTH, HEIGHT, _join(parts)), table)


def horizontal_bars(
    *,
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    reference: float | None = None,
    reference_label: str = "",
    value_format: Callable[[float | None], str] = _ratio,
    empty: str = "Nothing to show yet.",
) -> SafeString:
    """One bar per row on a 0–1 scale (negative values draw as nothing, their number still
    shows), with an optional dashed reference line."""
    if not bars:
        return empty_chart(empty)
    plot_left, plot_right = LABEL_WIDTH, WIDE - 72
    plot_w = plot_right - plot_left
    height = TOP + ROW_HEIGHT * len(bars) + BOTTOM
    parts: list[SafeString] = []
    for index, bar in enumerate(bars):
        y = TOP + index * ROW_HEIGHT
        width = plot_w * min(max(bar.value or 0.0, 0.0), 1.0)
        parts.append(
            format_html(
                '<text class="chart-label" x="{}" y="{}" text-anchor="end">{}</text>'
                '<rect class="chart-track" x="{}" y="{}" width="{}" height="{}"></rect>'
                '<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}"></rect>'
                '<text class="chart-value" x="{}" y="{}">{}</text>',
                _number(plot_left - 8),
                _number(y + ROW_HEIGHT / 2 + 4),
                bar.label if len(bar.label) <= 36 else bar.label[:35] + "…",
                _number(plot_left),
                _number(y + 6),
                _number(plot_w),
                _number(ROW_HEIGHT - 12),
                _number(plot_left),
                _number(y + 6),
                _number(width),
                _number(ROW_HEIGHT - 12),
                _number(plot_right + 8),
                _number(y + ROW_HEIGHT / 2 + 4),
                value_format(bar.value),
            )
        )
    axis_y = TOP + ROW_HEIGHT * len(bars)
    parts += [
        _x_label(
            plot_left + plot_w * f,
            axis_y + 18,
            _ratio(f) if value_format is _ratio else _percent(f),
        )
        for f in (0, 0.5, 1)
    ]
    if reference is not None:
        x = plot_left + plot_w * reference
        parts.append(
            format_html(
                '<line class="chart-reference" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text class="chart-tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                _number(x),
                _number(TOP - 2),
                _number(x),
                _number(axis_y + 2),
                _number(x),
                _number(TOP - 4 if TOP > 10 else 10),
                reference_label,
            )
        )
    summary = "; ".join(f"{bar.label}: {value_format(bar.value)}" for bar in bars) + "."
    table = _table(
        chart_id,
        title,
        ["Row", "Value", "Details"],
        ([bar.label, value_format(bar.value), bar.note or "—"] for bar in bars),
    )
    return _figure("hbars", _svg(chart_id, title, summary, WIDE, height, _join(parts)), table)


def histogram(
    *,
    chart_id: str,
    title: str,
    bins: Sequence[dict],
    unit: str = "experts",
    empty: str = "Nothing to show yet.",
) -> SafeString:
    """Contiguous bars over 0–100% from ``[{"low", "high", "n"}]``."""
    counts = [int(b.get("n") or 0) for b in bins]
    if not bins or not any(counts):
        return empty_chart(empty)
    top_value = nice_ceiling(max(MIN_COUNT_AXIS, *counts))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h
    parts = [
        _y_axis(TOP, bottom, LEFT, WIDTH - RIGHT, [(f, _count(top_value * f)) for f in (0, 0.5, 1)])
    ]
    labels = []
    for item, n in zip(bins, counts, strict=True):
        low, high = float(item.get("low", 0)), float(item.get("high", 0))
        label = f"{low * 100:.0f}–{high * 100:.0f}%"
        labels.append((label, n))
        height = plot_h * n / top_value
        parts.append(
            format_html(
                '<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}: {} {}</title></rect>",
                _number(LEFT + plot_w * low + 1),
                _number(bottom - height),
                _number(max(plot_w * (high - low) - 2, 1)),
                _number(height),
                label,
                n,
                unit,
            )
        )
    parts += [_x_label(LEFT + plot_w * f, HEIGHT - 8, _percent(f)) for f in (0, 0.25, 0.5, 0.75, 1)]
    busiest = max(labels, key=lambda row: row[1])
    summary = f"{sum(counts)} {unit}; the most in {busiest[0]} ({busiest[1]})."
    table = _table(
        chart_id, title, ["Range", unit.capitalize()], ([label, str(n)] for label, n in labels)
    )
    return _figure("histogram", _svg(chart_id, title, summary, WIDTH, HEIGHT, _join(parts)), table)


def reliability_diagram(
    *,
    chart_id: str,
    title: str,
    bins: Sequence[dict],
    empty: str = "No confidence on gold answers yet.",
) -> SafeString:
    """Each confidence bin's accuracy as a bar (wider with more answers) against the
    diagonal of perfect calibration, with a dot at the bin's mean confidence."""
    filled = [b for b in bins if int(b.get("n") or 0) > 0 and b.get("accuracy") is not None]
    if not filled:
        return empty_chart(empty)
    pad_l, pad_b, pad_t, pad_r = 44, 34, 12, 12
    size = SQUARE - pad_l - pad_r
    width, height = SQUARE, pad_t + size + pad_b
    bottom = pad_t + size
    most = max(int(b["n"]) for b in filled)

    def x(value: float) -> float:
        return pad_l + size * value

    def y(value: float) -> float:
        return bottom - size * value

    parts = [
        _y_axis(pad_t, bottom, pad_l, pad_l + size, [(f, _percent(f)) for f in (0, 0.5, 1)]),
        format_html(
            '<line class="chart-diagonal" x1="{}" y1="{}" x2="{}" y2="{}"></line>',
            _number(x(0)),
            _number(y(0)),
            _number(x(1)),
            _number(y(1)),
        ),
    ]
    rows = []
    for item in bins:
        n = int(item.get("n") or 0)
        low, high = float(item.get("low", 0)), float(item.get("high", 0))
        label = f"{low * 100:.0f}–{high * 100:.0f}%"
        accuracy = item.get("accuracy")
        confidence = item.get("confidence")
        rows.append(
            [label, str(n), _percent(confidence if n else None), _percent(accuracy if n else None)]
        )
        if not n or accuracy is None:
            continue
        bar_w = max((high - low) * size * n / most, 2.0)
        center = x((low + high) / 2)
        parts.append(
            format_html(
                '<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}: {} answers, {} right</title></rect>",
                _number(center - bar_w / 2),
                _number(y(float(accuracy))),
                _number(bar_w),
                _number(size * float(accuracy)),
                label,
                n,
                _percent(float(accuracy)),
            )
        )
        if confidence is not None:
            parts.append(
                format_html(
                    '<circle class="chart-dot" cx="{}" cy="{}" r="3"></circle>',
                    _number(x(float(confidence))),
                    _number(y(float(accuracy))),
                )
            )
    parts += [_x_label(x(f), bottom + 16, _percent(f)) for f in (0, 0.5, 1)]
    parts.append(_x_label(x(0.5), bottom + 30, "Stated confidence"))
    total = sum(int(b.get("n") or 0) for b in bins)
    summary = (
        f"{total} gold answers in {len(filled)} confidence bins; bars on the diagonal are "
        "well calibrated, below it over-confident."
    )
    table = _table(chart_id, title, ["Confidence", "Answers", "Mean confidence", "Accuracy"], rows)
    return _figure(
        "reliability", _svg(chart_id, title, summary, width, height, _join(parts)), table
    )


def budget_gauge(
    *,
    chart_id: str,
    title: str,
    spent: int,
    committed: int,
    budget: int,
    money: Callable[[int], str],
    limit_label: str = "Budget",
) -> SafeString:
    """A bullet bar: spent, then committed, on a track the size of the budget (or of the
    spending, if it went past the budget), with a mark at the budget. ``limit_label`` names
    the limit (a project without a budget is measured against its funding)."""
    width, height = WIDE, 64
    left, right = 8, WIDE - 8
    scale = max(budget, spent + committed, 1)
    track = right - left

    def at(cents: int) -> float:
        return left + track * cents / scale

    parts = [
        format_html(
            '<rect class="chart-track" x="{}" y="18" width="{}" height="20" rx="4"></rect>',
            left,
            track,
        ),
        format_html(
            '<rect class="chart-committed" x="{}" y="18" width="{}" height="20"></rect>',
            _number(at(spent)),
            _number(at(spent + committed) - at(spent)),
        ),
        format_html(
            '<rect class="chart-spent" x="{}" y="18" width="{}" height="20"></rect>',
            left,
            _number(at(spent) - left),
        ),
    ]
    if budget:
        parts.append(
            format_html(
                '<line class="chart-budget" x1="{}" y1="10" x2="{}" y2="46"></line>'
                '<text class="chart-tick" x="{}" y="60" text-anchor="end">{} {}</text>',
                _number(at(budget)),
                _number(at(budget)),
                _number(min(at(budget), right)),
                limit_label,
                money(budget),
            )
        )
    used = (
        f"{(spent + committed) / budget * 100:.0f}% of the {limit_label.lower()}"
        if budget
        else f"no {limit_label.lower()} set"
    )
    summary = f"Spent {money(spent)}, committed {money(committed)}, {used}."
    legend = format_html(
        '<ul class="chart-legend"><li><span class="chart-key chart-spent" aria-hidden="true">'
        '</span>Spent {}</li><li><span class="chart-key chart-committed" aria-hidden="true">'
        "</span>Committed {}</li><li>{} {}</li></ul>",
        money(spent),
        money(committed),
        limit_label,
        money(budget),
    )
    table = _table(
        chart_id,
        title,
        ["Amount", "Value"],
        [["Spent", money(spent)], ["Committed", money(committed)], [limit_label, money(budget)]],
    )
    return _figure(
        "gauge", _svg(chart_id, title, summary, width, height, _join(parts)), table, legend
    )
