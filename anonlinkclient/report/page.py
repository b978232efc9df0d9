"""The HTML page around a report's charts (one self-contained file, no script, no network), and what every
report has: :class:`Report`, which writes the page and its charts as one SVG.

The style sheet is inline and every rule is scoped to the report's wrapper
element, so that the page can also be shown inside a Jupyter notebook
(``IPython.display.HTML``) without restyling the notebook around it.
"""

import abc
import contextlib
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

from anonlinkclient.errors import UsageError
from anonlinkclient.io.output import atomic_output, check_outputs
from anonlinkclient.report import svg
from anonlinkclient.report.colours import COLOURS
from anonlinkclient.report.svg import attr, text

WRAPPER = "anonlink-report"
_KEY, _WARNING = COLOURS["key message"], COLOURS["warning"]

STYLE = f"""
.{WRAPPER} {{ font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial,
  'DejaVu Sans', sans-serif; color: #222; line-height: 1.45; max-width: 820px; margin: 0 auto;
  padding: 16px 20px 40px; background: #fff; }}
.{WRAPPER} h1 {{ font-size: 1.6em; margin: 0.3em 0 0.2em; }}
.{WRAPPER} h2 {{ font-size: 1.2em; margin: 1.6em 0 0.4em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }}
.{WRAPPER} p {{ margin: 0.5em 0; }}
.{WRAPPER} .source {{ color: #5f6368; font-size: 0.92em; margin-top: 0; word-break: break-all; }}
.{WRAPPER} .key {{ background: #f3f7fb; border-left: 4px solid {_KEY}; padding: 10px 14px; margin: 14px 0;
  font-size: 1.05em; }}
.{WRAPPER} .warning {{ background: #fff6e5; border-left: 4px solid {_WARNING}; padding: 8px 14px; margin: 12px 0; }}
.{WRAPPER} figure {{ margin: 16px 0 8px; }}
.{WRAPPER} figure svg {{ display: block; max-width: 100%; height: auto; }}
.{WRAPPER} figcaption {{ color: #444; font-size: 0.93em; margin-top: 4px; }}
.{WRAPPER} dl.facts {{ display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 10px 0; }}
.{WRAPPER} dl.facts dt {{ color: #5f6368; }}
.{WRAPPER} dl.facts dd {{ margin: 0; font-variant-numeric: tabular-nums; }}
.{WRAPPER} table {{ border-collapse: collapse; font-size: 0.92em; margin: 8px 0;
  font-variant-numeric: tabular-nums; }}
.{WRAPPER} .scroll {{ overflow-x: auto; }}
.{WRAPPER} caption {{ text-align: left; color: #444; padding-bottom: 4px; }}
.{WRAPPER} th, .{WRAPPER} td {{ padding: 3px 10px; border-bottom: 1px solid #e6e6e6; text-align: right; }}
.{WRAPPER} th {{ background: #f5f5f5; font-weight: 600; }}
.{WRAPPER} td.text, .{WRAPPER} th.text {{ text-align: left; }}
.{WRAPPER} tr.best td {{ background: #e8f4ea; font-weight: 600; }}
.{WRAPPER} code {{ font-size: 0.95em; }}
.{WRAPPER} footer {{ color: #777; font-size: 0.85em; margin-top: 2.5em; }}
"""


@dataclass
class Table:
    """A table of numbers: a caption, column headings and rows of cell texts.

    :ivar text_columns: indices of the columns that hold text (left-aligned).
    :ivar highlight: indices of the rows to highlight.
    """

    caption: str
    headings: Sequence[str]
    rows: Sequence[Sequence[str]]
    text_columns: Sequence[int] = ()
    highlight: Sequence[int] = ()
    table_id: str = ""

    def html(self) -> str:
        """The table as HTML."""
        id_attr = f" id={attr(self.table_id)}" if self.table_id else ""
        left = ' class="text"'
        heads = "".join(
            f'<th scope="col"{left if index in self.text_columns else ""}>{text(heading)}</th>'
            for index, heading in enumerate(self.headings)
        )
        body = []
        for row_index, row in enumerate(self.rows):
            cls = ' class="best"' if row_index in self.highlight else ""
            cells = "".join(
                f"<td{left if index in self.text_columns else ''}>{text(cell)}</td>" for index, cell in enumerate(row)
            )
            body.append(f"<tr{cls}>{cells}</tr>")
        return (
            f"<table{id_attr}><caption>{text(self.caption)}</caption><thead><tr>{heads}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
        )


@dataclass
class Page:
    """A report page: a title, a source line, then sections of HTML, built with the ``add_*`` methods."""

    title: str
    source: str
    parts: List[str] = field(default_factory=list)

    def heading(self, title: str) -> None:
        """A section heading."""
        self.parts.append(f"<h2>{text(title)}</h2>")

    def paragraph(self, content: str, css_class: Optional[str] = None, raw: bool = False) -> None:
        """A paragraph of text (``raw``: ``content`` is already HTML)."""
        cls = f" class={attr(css_class)}" if css_class else ""
        self.parts.append(f"<p{cls}>{content if raw else text(content)}</p>")

    def facts(self, items: Sequence[Sequence[str]], facts_id: str = "") -> None:
        """A list of ``(name, value)`` facts."""
        id_attr = f" id={attr(facts_id)}" if facts_id else ""
        rows = "".join(f"<dt>{text(name)}</dt><dd>{text(value)}</dd>" for name, value in items)
        self.parts.append(f'<dl class="facts"{id_attr}>{rows}</dl>')

    def figure(self, svg: str, caption: str) -> None:
        """A chart with a caption."""
        self.parts.append(f"<figure>{svg}<figcaption>{text(caption)}</figcaption></figure>")

    def table(self, table: Table) -> None:
        """A table."""
        self.parts.append(f'<div class="scroll">{table.html()}</div>')

    def fragment(self) -> str:
        """The report as an HTML fragment (style sheet and content), for a notebook cell."""
        return (
            f'<div class="{WRAPPER}"><style>{STYLE}</style><h1>{text(self.title)}</h1>'
            f'<p class="source">{text(self.source)}</p>{"".join(self.parts)}'
            f"<footer>Made by anonlink-client. This page is self-contained: it loads nothing from the network."
            f"</footer></div>"
        )

    def html(self) -> str:
        """The report as a complete HTML document."""
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{text(self.title)}</title></head><body style="margin:0;background:#fff">'
            f"{self.fragment()}</body></html>\n"
        )


def check_report_outputs(output: str, svg_output: Optional[str], inputs: Sequence[Optional[str]]) -> None:
    """Check, before anything is read, that a report's page and SVG can be written and destroy no input.

    :raises UsageError: if ``output`` and ``svg_output`` are the same file.
    :raises OutputFileError: if an output cannot be written or is an input (see
        :func:`~anonlinkclient.io.output.check_outputs`).
    """
    if svg_output is not None and svg_output == output:
        raise UsageError("the HTML report and the SVG need different outputs", "svg_output")
    check_outputs([output, svg_output], inputs)


class Report(abc.ABC):
    """What every report has: its HTML page, the same page in a notebook, and its charts as one SVG.

    :cvar svg_id: the ``id`` of the standalone SVG's root element.
    """

    svg_id = "report"
    title: str
    charts: List[Any]

    @abc.abstractmethod
    def page(self) -> Page:
        """The report's page."""

    @abc.abstractmethod
    def key_message(self) -> str:
        """The one sentence the report is about."""

    def html(self) -> str:
        """The report as one self-contained HTML page."""
        return self.page().html()

    def svg(self) -> str:
        """The report's charts, one below the other, as one standalone SVG."""
        return svg.stack(self.svg_id, self.title, self.key_message(), self.charts)

    def write(
        self,
        output: str,
        svg_output: Optional[str] = None,
        private: bool = False,
        also: Sequence[Tuple[str, str]] = (),
    ) -> None:
        """Write the page to ``output`` (``-``: stdout) and, if asked, the charts as one SVG to ``svg_output``.

        Everything is made before any file is opened, and written atomically: every file
        appears, or none.

        :param private: the page is readable by its owner only (it holds personal data).
        :param also: other ``(path, text)`` outputs to write with them (e.g. the figures as JSON).
        :raises OutputFileError: if an output cannot be written.
        """
        page = self.html()
        figure = self.svg() if svg_output is not None else ""
        with contextlib.ExitStack() as stack:
            html_out = stack.enter_context(atomic_output(output, private=private))
            if svg_output is not None:
                stack.enter_context(atomic_output(svg_output)).write(figure)
            for path, text in also:
                stack.enter_context(atomic_output(path)).write(text)
            html_out.write(page)

    def _repr_html_(self) -> str:
        return self.page().fragment()
