"""Figures and self-contained HTML reports shared by every stage.

Every report lociflow writes (evaluation, predictions, the interpretation dashboard, GUI
downloads) is one HTML file with its images embedded, so it can be mailed or archived
without the folder around it. Figures are made with :class:`matplotlib.figure.Figure`
(no pyplot state, safe in the GUI's threads) and saved atomically, as PNG for the page
and SVG for papers.
"""

from __future__ import annotations

import base64
import html
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lociflow.io.atomic import atomic_open

IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}

# Metadata fixed so that the same figure gives the same bytes on every run.
_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}, "pdf": {"CreationDate": None}}


def new_figure(width: float = 6.0, height: float = 4.5):
    """A matplotlib Figure not registered with pyplot (no global state, nothing to close).

    Parameters
    ----------
    width, height : float
        The size in inches. Default is 6.0 by 4.5.

    Returns
    -------
    matplotlib.figure.Figure
        A figure with the constrained layout.
    """
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig, stem: str | os.PathLike, formats: Sequence[str] = ("png", "svg"), dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``<stem>.<format>`` for each format, atomically.

    Why: a plot half-written when a run is interrupted must never look complete, and
    the same figure should give the same bytes (fixed metadata and SVG ids).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; a pyplot-managed figure is closed afterwards to free its memory.
    stem : str or os.PathLike
        Output path without extension, e.g. ``run/roc_curve``.
    formats : sequence of str
        File formats understood by matplotlib. Default is ``("png", "svg")``.
    dpi : int
        Resolution of raster formats. Default is 150.

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.
    """
    import matplotlib

    stem = Path(stem)
    written = []
    with matplotlib.rc_context({"svg.hashsalt": "lociflow", "svg.fonttype": "none"}):
        for fmt in formats:
            path = stem.parent / f"{stem.name}.{fmt}"
            with atomic_open(path, "wb") as handle:
                fig.savefig(handle, format=fmt, dpi=dpi, metadata=_METADATA.get(fmt), bbox_inches="tight", pad_inches=0.08)
            written.append(path)
            # the layout is fixed by the first save; computing it again per format only costs time
            if fig.get_layout_engine() is not None:
                fig.set_layout_engine("none")
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
    return written


def img_tag(path: str | os.PathLike, alt: str = "", width: str | None = None) -> str:
    """An ``<img>`` tag with the image at ``path`` embedded as base64 (no external file).

    Parameters
    ----------
    path : str or os.PathLike
        A PNG, SVG or JPEG file.
    alt : str
        The alternative text (escaped). Default is ``""``: the file's stem.
    width : str or None
        A CSS width (e.g. ``"100%"``). Default is None (the image's own).

    Returns
    -------
    str
        The tag.
    """
    path = Path(path)
    mime = IMAGE_TYPES.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"cannot embed {path}: unknown image type {path.suffix!r}")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    style = f' style="width:{html.escape(width)}"' if width else ""
    return f'<img src="data:{mime};base64,{data}" alt="{html.escape(alt or path.stem)}"{style}>'


def table_html(df, float_format: str = "{:.4f}", index: bool = False, na: str = "–") -> str:
    """A pandas DataFrame as a plain HTML table styled by :func:`html_page`'s CSS.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; its cells are escaped.
    float_format : str
        A :meth:`str.format` pattern for floats. Default is ``"{:.4f}"``.
    index : bool
        Show the index. Default is False.
    na : str
        Shown for missing values. Default is ``"–"``.

    Returns
    -------
    str
        The ``<table class="data">``.
    """

    def fmt(value):
        return float_format.format(value)

    return df.to_html(index=index, border=0, classes="data", na_rep=na, float_format=fmt, escape=True)


def key_values_html(items: dict) -> str:
    """A two-column table of labels and values (run facts, headline numbers).

    Parameters
    ----------
    items : dict
        Label -> value; floats are shown with four decimals, None as ``–`` (all escaped).

    Returns
    -------
    str
        The ``<table class="kv">``.
    """
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_short(v))}</td></tr>" for k, v in items.items()
    )
    return f'<table class="kv">{rows}</table>'


def notes_html(notes: dict[str, str]) -> str:
    """A short glossary under a table: each term in bold with its one-sentence meaning.

    Parameters
    ----------
    notes : dict of str to str
        Term -> meaning (both escaped).

    Returns
    -------
    str
        The ``<ul class="notes">``.
    """
    items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in notes.items())
    return f'<ul class="notes">{items}</ul>'


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if value is None:
        return "–"
    return str(value)


_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --accent: #0969da; --bg-alt: #f6f8fa; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg);
       margin: 0; line-height: 1.5; font-size: 15px; }
header { padding: 1.2rem 2rem; border-bottom: 1px solid var(--line); background: var(--bg-alt); }
header h1 { margin: 0; font-size: 1.5rem; }
header p { margin: .3rem 0 0; color: var(--muted); }
nav { padding: .5rem 2rem; border-bottom: 1px solid var(--line); font-size: .9rem; }
nav a { color: var(--accent); text-decoration: none; margin-right: 1.2rem; }
main { padding: 0 2rem 2rem; max-width: 1200px; }
section { margin-top: 1.8rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; }
img { max-width: 100%; height: auto; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.figures figure { margin: 0; flex: 1 1 420px; max-width: 600px; }
figcaption { color: var(--muted); font-size: .85rem; }
ul.notes { color: var(--muted); font-size: .85rem; max-width: 60rem; padding-left: 1.2rem; }
table.data, table.kv { border-collapse: collapse; font-size: .9rem; margin: .5rem 0; }
table.data th, table.data td, table.kv th, table.kv td { border: 1px solid var(--line); padding: .3rem .6rem; }
table.data th, table.kv th { background: var(--bg-alt); text-align: left; font-weight: 600; }
table.data td { text-align: right; font-variant-numeric: tabular-nums; }
table.data td:first-child { text-align: left; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
footer { color: var(--muted); font-size: .8rem; padding: 1rem 2rem; border-top: 1px solid var(--line); }
"""


def figure_html(path: str | os.PathLike, caption: str = "") -> str:
    """One embedded figure with an optional caption.

    Parameters
    ----------
    path : str or os.PathLike
        The image file (see :func:`img_tag`).
    caption : str
        The caption, also the image's alternative text. Default is ``""`` (none).

    Returns
    -------
    str
        The ``<figure>``.
    """
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f"<figure>{img_tag(path, alt=caption)}{cap}</figure>"


def figures_html(items: Sequence[tuple[str | os.PathLike, str]]) -> str:
    """Several embedded figures side by side, wrapping on narrow screens.

    Parameters
    ----------
    items : sequence of (path, str)
        The image files and their captions.

    Returns
    -------
    str
        The ``<div class="figures">``.
    """
    return '<div class="figures">' + "".join(figure_html(p, c) for p, c in items) + "</div>"


def html_page(title: str, sections: Sequence[tuple[str, str]], subtitle: str = "", extra_css: str = "") -> str:
    """A complete, self-contained HTML page: a header, a section index, and the sections.

    Parameters
    ----------
    title : str
        Page title (escaped).
    sections : sequence of (heading, html body)
        Bodies are inserted as given (build them with :func:`table_html`,
        :func:`figures_html`, :func:`img_tag`); headings are escaped.
    subtitle : str
        One line under the title (escaped), e.g. the model and data evaluated. Default is
        ``""`` (none).
    extra_css : str
        More CSS rules for pages with their own widgets (sequence maps). Default is ``""``.

    Returns
    -------
    str
        The HTML document.
    """
    from lociflow import __version__

    anchors = [f"s{i}" for i in range(len(sections))]
    nav = "".join(f'<a href="#{a}">{html.escape(h)}</a>' for a, (h, _) in zip(anchors, sections))
    body = "".join(
        f'<section id="{a}"><h2>{html.escape(h)}</h2>{content}</section>' for a, (h, content) in zip(anchors, sections)
    )
    sub = f"<p>{html.escape(subtitle)}</p>" if subtitle else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}{extra_css}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1>{sub}</header>"
        f"<nav>{nav}</nav><main>{body}</main>"
        f"<footer>Made by lociflow {html.escape(__version__)}.</footer></body></html>\n"
    )
