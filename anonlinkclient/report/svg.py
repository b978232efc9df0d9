"""Small SVG chart primitives: scales, ticks, bar and line charts, written as text.

The reports draw their charts with these instead of a plotting library, so that a
report is one self-contained file that any browser (and a Jupyter notebook)
renders with no script, font or network access. Every chart is an ``<svg>``
element with a ``<title>`` and ``<desc>`` for screen readers, presentation
attributes rather than a style sheet (so it looks the same standalone, inside an
HTML page or in a notebook), and a ``<title>`` on each bar and line giving its
numbers as a tooltip. Bars, lines and markers carry ``data-*`` attributes with
the numbers they show, so that the numbers can be read back from the page.
"""

import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple
from xml.sax.saxutils import escape

from anonlinkclient.report.colours import COLOURS

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'DejaVu Sans', sans-serif"
TEXT = COLOURS["text"]
MUTED = COLOURS["muted text"]
GRID = COLOURS["grid"]
AXIS = COLOURS["axis"]
BACKGROUND = COLOURS["background"]

Box = Tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


def attr(value: object) -> str:
    """``value`` as a double-quoted XML attribute value."""
    return '"' + escape(str(value), {'"': "&quot;"}) + '"'


def text(value: object) -> str:
    """``value`` escaped for XML character data."""
    return escape(str(value))


def number(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    rounded = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if rounded in ("-0", "") else rounded


def nice_step(span: float, count: int, whole: bool = False) -> float:
    """The step of 1, 2, 2.5 or 5 times a power of ten that splits ``span`` into about ``count`` parts.

    :param whole: a step for counts: a whole number, never 2.5 times a power of ten below 10.
    """
    if span <= 0:
        return 1.0
    raw = span / max(count, 1)
    if whole:
        raw = max(raw, 1.0)
    power = 10 ** math.floor(math.log10(raw))
    factors = (1, 2, 5, 10) if whole and power < 10 else (1, 2, 2.5, 5, 10)
    for factor in factors:
        if raw <= factor * power * (1 + 1e-9):
            return factor * power
    return 10 * power


def linear_ticks(low: float, high: float, count: int = 6, whole: bool = False) -> List[float]:
    """Round tick values from ``low`` to ``high`` (both included if they are round).

    :param whole: ticks for counts, at whole numbers only.
    """
    step = nice_step(high - low, count, whole)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(index * step, 10) for index in range(first, last + 1)]


def log_ticks(low: float, high: float) -> List[float]:
    """Powers of ten from ``low`` to ``high``, with 2 and 5 times them if they span 2.5 decades or less."""
    low = max(low, 1e-12)
    first = math.floor(math.log10(low))
    last = math.ceil(math.log10(high))
    factors = (1, 2, 5) if math.log10(high / low) <= 2.5 else (1,)
    ticks = []
    for power in range(first, last + 1):
        for factor in factors:
            value = factor * 10.0**power
            if low * (1 - 1e-9) <= value <= high * (1 + 1e-9):
                ticks.append(value)
    return ticks


def log_range(largest: float) -> Tuple[float, float]:
    """The y range of a log-scaled count axis whose top is a labelled tick above ``largest``.

    Counts start at 1, so the axis starts just below it (0.7), and a bar of 1 still shows.
    """
    wanted = largest * 1.15
    power = 10.0 ** math.ceil(math.log10(wanted))
    for factor in (0.2, 0.5):
        # log_ticks labels 2 and 5 times the powers of ten on axes of up to 2.5 decades
        if power * factor >= wanted and math.log10(power * factor / 0.7) <= 2.5:
            return (0.7, power * factor)
    return (0.7, power)


def format_count(value: float, largest: Optional[float] = None) -> str:
    """A count for an axis tick: ``950``, ``1,500``, ``12k``, ``1.5M``.

    :param largest: the axis's largest tick; from 10,000 on, every tick of a
        thousand or more is written in thousands (or millions), so an axis reads
        ``2k 4k ... 10k`` rather than ``8,000 10k``.
    """
    magnitude = abs(value)
    top = max(abs(largest) if largest is not None else magnitude, magnitude)
    for limit, divisor, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e3, 1e3, "k")):
        if magnitude >= limit and top >= 10 * limit:
            return f"{value / divisor:.1f}".rstrip("0").rstrip(".") + suffix
        if magnitude >= limit and limit > 1e3 and top >= limit:
            return f"{value / divisor:.1f}".rstrip("0").rstrip(".") + suffix
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:g}"


def format_fraction(value: float, step: float) -> str:
    """A tick on a 0..1 axis with as many decimals as its step needs."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 2
    if not float(round(step * 10**decimals, 6)).is_integer():
        decimals += 1
    return f"{value:.{decimals}f}"


@dataclass
class Scale:
    """A linear or logarithmic map from data values to pixels."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        """The pixel position of ``value`` (clamped to the scale's range)."""
        if self.log:
            low, high = math.log10(self.low), math.log10(self.high)
            value = math.log10(max(value, self.low))
        else:
            low, high = self.low, self.high
        if high == low:
            return self.start
        fraction = (value - low) / (high - low)
        fraction = min(max(fraction, 0.0), 1.0)
        return self.start + fraction * (self.end - self.start)

    def ticks(self, count: int = 6, whole: bool = False) -> List[float]:
        """Tick values for this scale (``whole``: for counts, at whole numbers only)."""
        return log_ticks(self.low, self.high) if self.log else linear_ticks(self.low, self.high, count, whole)


@dataclass
class LegendItem:
    """A legend entry: a swatch (``bar``, ``line`` or ``dash``) in a colour, and a label."""

    label: str
    colour: str
    kind: str = "bar"
    opacity: float = 1.0


@dataclass
class Chart:
    """An x-y chart with axes, grid lines, a legend above the plot, bars, lines and markers.

    Call :meth:`bars`, :meth:`line`, :meth:`vline` and :meth:`hline` to draw, then
    :meth:`svg` for a standalone ``<svg>`` element.

    :ivar chart_id: a prefix for element ids, unique within the page.
    :ivar x_format: how x ticks are written: ``fraction`` (0..1 values) or ``count``.
    """

    chart_id: str
    title: str
    description: str
    x_label: str
    y_label: str
    x_range: Tuple[float, float]
    y_range: Tuple[float, float]
    y_log: bool = False
    width: int = 760
    height: int = 380
    x_format: str = "fraction"
    y_format: str = "count"
    x_ticks: Optional[Sequence[float]] = None
    x_labels: Optional[Sequence[Tuple[float, str]]] = None
    margin: Tuple[int, int, int, int] = (64, 24, 54, 76)  # top, right, bottom, left
    body: List[str] = field(default_factory=list)
    legend: List[LegendItem] = field(default_factory=list)
    markers: List[Tuple[str, float, str, str, List[str]]] = field(default_factory=list)
    points: List[Tuple[float, float]] = field(default_factory=list)
    boxes: List[Box] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rotate_x_labels = False
        if self.x_labels and len(self.x_labels) > 1:
            top, right, bottom, left = self.margin
            positions = sorted(position for position, _label in self.x_labels)
            span = self.x_range[1] - self.x_range[0]
            spacing = (self.width - right - left) * (positions[1] - positions[0]) / span
            widest = max(len(label) for _position, label in self.x_labels) * 7.0
            if widest > spacing - 8:
                self.rotate_x_labels = True
                extra = int(widest * 0.65) - 6
                self.margin = (top, right, bottom + extra, left)
                self.height += extra

    @property
    def x(self) -> Scale:
        """The x scale."""
        top, right, bottom, left = self.margin
        return Scale(self.x_range[0], self.x_range[1], left, self.width - right)

    @property
    def y(self) -> Scale:
        """The y scale."""
        top, right, bottom, left = self.margin
        return Scale(self.y_range[0], self.y_range[1], self.height - bottom, top, log=self.y_log)

    def bars(
        self,
        edges: Sequence[float],
        counts: Sequence[float],
        colour: str,
        series: str,
        label: str,
        opacity: float = 1.0,
        tooltip: str = "{low}–{high}: {count}",
        tips: Optional[Sequence[str]] = None,
        keys: Optional[Sequence[str]] = None,
        gap: float = 0.6,
    ) -> None:
        """Bars from ``edges[i]`` to ``edges[i+1]`` of height ``counts[i]``; empty bins are not drawn.

        :param tooltip: the tooltip of each bar, formatted with ``low``, ``high`` and ``count``.
        :param tips: the tooltip of each bar, instead of ``tooltip``.
        :param keys: a ``data-key`` for each bar (e.g. the category it counts).
        :param gap: the space between bars, in pixels.
        """
        x, y = self.x, self.y
        base = y.start
        parts = [f"<g data-series={attr(series)} fill={attr(colour)} fill-opacity={attr(opacity)}>"]
        for index, (low, high, count) in enumerate(zip(edges[:-1], edges[1:], counts)):
            if count <= 0:
                continue
            top = y(count)
            left, right = x(low), x(high)
            self.boxes.append((left, top, right, base))
            if tips is not None:
                tip = tips[index]
            else:
                tip = tooltip.format(low=self._x_text(low), high=self._x_text(high), count=f"{int(count):,}")
            key = f" data-key={attr(keys[index])}" if keys is not None else ""
            parts.append(
                f"<rect x={attr(number(left + gap / 2))} y={attr(number(top))}"
                f" width={attr(number(max(right - left - gap, 0.6)))} height={attr(number(max(base - top, 0.8)))}"
                f" data-low={attr(low)} data-high={attr(high)} data-count={attr(int(count))}{key}>"
                f"<title>{text(tip)}</title></rect>"
            )
        parts.append("</g>")
        self.body.append("".join(parts))
        self.legend.append(LegendItem(label, colour, "bar", opacity))

    def line(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        colour: str,
        series: str,
        label: str,
        dash: Optional[str] = None,
        width: float = 2.2,
    ) -> None:
        """A line through the points ``(xs[i], ys[i])``; points with a NaN y break the line."""
        x, y = self.x, self.y
        runs: List[List[str]] = [[]]
        for xv, yv in zip(xs, ys):
            if yv != yv:  # NaN
                if runs[-1]:
                    runs.append([])
                continue
            px, py = x(xv), y(yv)
            self.points.append((px, py))
            runs[-1].append(f"{number(px)},{number(py)}")
        dash_attr = f" stroke-dasharray={attr(dash)}" if dash else ""
        parts = [
            f'<g data-series={attr(series)} fill="none" stroke={attr(colour)} stroke-width={attr(width)}'
            f' stroke-linejoin="round"{dash_attr}><title>{text(label)}</title>'
        ]
        for run in runs:
            if run:
                parts.append(f"<polyline points={attr(' '.join(run))}/>")
        parts.append("</g>")
        self.body.append("".join(parts))
        self.legend.append(LegendItem(label, colour, "dash" if dash else "line"))

    def vline(self, value: float, colour: str, role: str, label: str, note: str = "") -> None:
        """A vertical marker at x = ``value``, labelled where the label covers the least data."""
        self.markers.append(("v", value, colour, role, [label] + ([note] if note else [])))

    def hline(self, value: float, colour: str, role: str, label: str) -> None:
        """A horizontal reference line at y = ``value``, labelled at its right (or left) end."""
        self.markers.append(("h", value, colour, role, [label]))

    def _hits(self, box: Box, boxes: Sequence[Box]) -> int:
        """How many drawn points, bars and labels a label box would cover."""
        x0, y0, x1, y1 = box
        hits = sum(1 for px, py in self.points if x0 <= px <= x1 and y0 <= py <= y1)
        hits += sum(3 for bx0, by0, bx1, by1 in boxes if bx0 < x1 and bx1 > x0 and by0 < y1 and by1 > y0)
        return hits

    def _label(self, lines: Sequence[str], px: float, py: float, anchor: str, colour: str, size: float) -> str:
        spans = "".join(
            f"<tspan x={attr(number(px))} dy={attr('0' if index == 0 else '1.25em')}>{text(line)}</tspan>"
            for index, line in enumerate(lines)
        )
        return (
            f"<text x={attr(number(px))} y={attr(number(py))} text-anchor={attr(anchor)} fill={attr(colour)}"
            f' font-size={attr(size)} font-weight="600" paint-order="stroke" stroke={attr(BACKGROUND)}'
            f' stroke-width="4" stroke-linejoin="round" data-role="label">{spans}</text>'
        )

    def _label_box(self, lines: Sequence[str], px: float, py: float, anchor: str, size: float) -> Box:
        width = max(len(line) for line in lines) * size * 0.6
        height = len(lines) * size * 1.25
        x0 = px - width if anchor == "end" else px
        return (x0, py - size, x0 + width, py - size + height)

    def _place(
        self, lines: Sequence[str], options: Sequence[Tuple[float, float, str]], size: float, boxes: Sequence[Box]
    ) -> Tuple[float, float, str]:
        """The first of the label positions ``options`` that covers the least, inside the plot."""
        x = self.x
        costs = []
        for index, (px, py, anchor) in enumerate(options):
            box = self._label_box(lines, px, py, anchor, size)
            outside = box[0] < x.start or box[2] > x.end
            costs.append((self._hits(box, boxes) + (1000 if outside else 0), index))
        return options[min(costs)[1]]

    def _markers(self) -> str:
        x, y = self.x, self.y
        parts = []
        boxes = list(self.boxes)
        for kind, value, colour, role, lines in sorted(self.markers, key=lambda marker: marker[0]):
            if kind == "h":
                py = y(value)
                size = 11.5
                options = [(x.end - 4, py - 5, "end"), (x.start + 4, py - 5, "start"), (x.end - 4, py + 14, "end")]
                line = (
                    f"<line x1={attr(number(x.start))} x2={attr(number(x.end))} y1={attr(number(py))}"
                    f' y2={attr(number(py))} stroke={attr(colour)} stroke-width="1.3" stroke-dasharray="2 3"/>'
                )
            else:
                px = x(value)
                size = 12
                top, bottom = y.end + 14, y.start - 8 - 15 * (len(lines) - 1)
                middle = (top + bottom) / 2
                options = [
                    (px + 6, top, "start"),
                    (px - 6, top, "end"),
                    (px + 6, middle, "start"),
                    (px - 6, middle, "end"),
                    (px + 6, bottom, "start"),
                    (px - 6, bottom, "end"),
                ]
                line = (
                    f"<line x1={attr(number(px))} x2={attr(number(px))} y1={attr(number(y.end))}"
                    f' y2={attr(number(y.start))} stroke={attr(colour)} stroke-width="1.6"'
                    f' stroke-dasharray="5 3"/>'
                )

            lx, ly, anchor = self._place(lines, options, size, boxes)
            boxes.append(self._label_box(lines, lx, ly, anchor, size))
            parts.append(
                f"<g data-role={attr(role)} data-value={attr(value)}>{line}"
                f"{self._label(lines, lx, ly, anchor, colour, size)}</g>"
            )
        return "".join(parts)

    def _x_text(self, value: float) -> str:
        if self.x_format == "fraction":
            return f"{value:.3f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.1f}"
        return format_count(value)

    def _axes(self) -> str:
        x, y = self.x, self.y
        top, right, bottom, left = self.margin
        parts = ['<g data-role="axes">']
        # y grid and ticks
        y_ticks = y.ticks(6, whole=self.y_format == "count")
        y_step = (y_ticks[1] - y_ticks[0]) if len(y_ticks) > 1 else 1.0
        y_largest = max(y_ticks) if y_ticks else 0.0
        for tick in y_ticks:
            py = y(tick)
            label = format_fraction(tick, y_step) if self.y_format == "fraction" else format_count(tick, y_largest)
            parts.append(
                f"<line x1={attr(number(x.start))} x2={attr(number(x.end))} y1={attr(number(py))}"
                f' y2={attr(number(py))} stroke={attr(GRID)} stroke-width="1"/>'
                f'<text x={attr(number(x.start - 8))} y={attr(number(py + 4))} text-anchor="end"'
                f' fill={attr(MUTED)} font-size="12" data-tick="y">{text(label)}</text>'
            )
        # x ticks
        if self.x_labels is not None:
            labels = list(self.x_labels)
        else:
            x_ticks = list(self.x_ticks) if self.x_ticks is not None else x.ticks(10)
            x_step = (x_ticks[1] - x_ticks[0]) if len(x_ticks) > 1 else 0.1
            labels = [
                (tick, format_fraction(tick, x_step) if self.x_format == "fraction" else format_count(tick))
                for tick in x_ticks
            ]
        for tick, label in labels:
            px = x(tick)
            if self.rotate_x_labels:
                placed = (
                    f"transform={attr(f'translate({number(px + 4)},{number(y.start + 14)}) rotate(-40)')}"
                    ' text-anchor="end"'
                )
            else:
                placed = f'x={attr(number(px))} y={attr(number(y.start + 19))} text-anchor="middle"'
            parts.append(
                f"<line x1={attr(number(px))} x2={attr(number(px))} y1={attr(number(y.start))}"
                f' y2={attr(number(y.start + 5))} stroke={attr(AXIS)} stroke-width="1"/>'
                f'<text {placed} fill={attr(MUTED)} font-size="12" data-tick="x">{text(label)}</text>'
            )
        # axis lines
        parts.append(
            f"<line x1={attr(number(x.start))} x2={attr(number(x.end))} y1={attr(number(y.start))}"
            f' y2={attr(number(y.start))} stroke={attr(AXIS)} stroke-width="1.2"/>'
            f"<line x1={attr(number(x.start))} x2={attr(number(x.start))} y1={attr(number(y.start))}"
            f' y2={attr(number(y.end))} stroke={attr(AXIS)} stroke-width="1.2"/>'
        )
        # axis titles
        mid_x = (x.start + x.end) / 2
        mid_y = (y.start + y.end) / 2
        parts.append(
            f'<text x={attr(number(mid_x))} y={attr(number(self.height - 12))} text-anchor="middle"'
            f' fill={attr(TEXT)} font-size="13" data-role="x-label">{text(self.x_label)}</text>'
            f"<text transform={attr(f'translate({number(18)},{number(mid_y)}) rotate(-90)')}"
            f' text-anchor="middle" fill={attr(TEXT)} font-size="13" data-role="y-label">'
            f"{text(self.y_label)}</text>"
        )
        parts.append("</g>")
        return "".join(parts)

    def _legend(self) -> str:
        top, right, bottom, left = self.margin
        parts = ['<g data-role="legend">']
        px = float(left)
        py = 44.0
        for item in self.legend:
            width = 7.0 * len(item.label) + 34
            if px + width > self.width - right and px > left:
                px = float(left)
                py += 18
            if item.kind == "bar":
                swatch = (
                    f'<rect x={attr(number(px))} y={attr(number(py - 9))} width="14" height="11"'
                    f" fill={attr(item.colour)} fill-opacity={attr(item.opacity)}/>"
                )
            else:
                dash = ' stroke-dasharray="5 3"' if item.kind == "dash" else ""
                swatch = (
                    f"<line x1={attr(number(px))} x2={attr(number(px + 18))} y1={attr(number(py - 4))}"
                    f' y2={attr(number(py - 4))} stroke={attr(item.colour)} stroke-width="2.5"{dash}/>'
                )
            parts.append(
                f"{swatch}<text x={attr(number(px + 22))} y={attr(number(py))} fill={attr(TEXT)}"
                f' font-size="12">{text(item.label)}</text>'
            )
            px += width
        parts.append("</g>")
        return "".join(parts)

    def content(self) -> str:
        """The chart's elements, without the enclosing ``<svg>``."""
        title_id = f"{self.chart_id}-title"
        return (
            f"<rect width={attr(self.width)} height={attr(self.height)} fill={attr(BACKGROUND)}/>"
            f'<text x="{self.margin[3]}" y="22" fill={attr(TEXT)} font-size="16" font-weight="600"'
            f' data-role="title" id={attr(title_id + "-text")}>{text(self.title)}</text>'
            + self._legend()
            + self._axes()
            + "".join(self.body)
            + self._markers()
        )

    def svg(self, standalone: bool = False) -> str:
        """The chart as an ``<svg>`` element (with an XML declaration if ``standalone``)."""
        return svg_document(
            self.chart_id, self.title, self.description, self.width, self.height, self.content(), standalone
        )


def svg_document(
    element_id: str, title: str, description: str, width: int, height: int, content: str, standalone: bool = False
) -> str:
    """An ``<svg>`` element of the given size around ``content``, with a title and description."""
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if standalone else ""
    return (
        f'{head}<svg xmlns="http://www.w3.org/2000/svg" id={attr(element_id)} width={attr(width)}'
        f' height={attr(height)} viewBox={attr(f"0 0 {width} {height}")} role="img"'
        f" aria-labelledby={attr(f'{element_id}-title {element_id}-desc')} font-family={attr(FONT)}"
        f' style="max-width:100%;height:auto">'
        f"<title id={attr(element_id + '-title')}>{text(title)}</title>"
        f"<desc id={attr(element_id + '-desc')}>{text(description)}</desc>"
        f"{content}</svg>"
    )


def stack(element_id: str, title: str, description: str, charts: Sequence[Chart], gap: int = 16) -> str:
    """One standalone SVG with ``charts`` one below the other (for notebooks and papers)."""
    width = max(chart.width for chart in charts)
    parts = []
    offset = 0
    for chart in charts:
        parts.append(f"<g transform={attr(f'translate(0,{offset})')} data-chart={attr(chart.chart_id)}>")
        parts.append(chart.content())
        parts.append("</g>")
        offset += chart.height + gap
    return svg_document(element_id, title, description, width, offset - gap, "".join(parts), standalone=True)
