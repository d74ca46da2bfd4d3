"""Coloured sequence maps: each letter of a locus shaded by its attribution score.

Red marks positions that push the prediction up, blue those that push it down (a
diverging colormap centred on zero), so a motif stands out at a glance. The maps are
plain HTML (one ``<span>`` per position with the score in its tooltip), which keeps a
page with hundreds of loci light and lets the browser wrap long sequences.
"""

from __future__ import annotations

import html

import numpy as np

SEQMAP_CSS = """
.seqmap { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 15px;
          line-height: 1.7; word-break: break-all; margin: .2rem 0 .8rem; }
.seqmap span { padding: 2px 1px; }
.seqmap-label { font-size: .85rem; color: #59636e; margin-top: .6rem; }
.seqmap-legend { display: inline-block; width: 160px; height: 10px; vertical-align: middle;
                 background: linear-gradient(to right, #2166ac, #f7f7f7, #b2182b); margin: 0 .4rem; }
"""


def _colors(scores: np.ndarray, scale: float) -> list[tuple[str, str]]:
    from matplotlib import colormaps

    cmap = colormaps["RdBu_r"]
    norm = np.clip(0.5 + 0.5 * scores / scale, 0.0, 1.0) if scale > 0 else np.full(len(scores), 0.5)
    out = []
    for r, g, b, _ in cmap(norm):
        luminance = 0.299 * r + 0.587 * g + 0.114 * b
        fg = "#ffffff" if luminance < 0.5 else "#1f2328"
        out.append((f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}", fg))
    return out


def sequence_map_html(sequence: str, scores: np.ndarray, scale: float | None = None) -> str:
    """One locus as letters on a red (high) to blue (low) background, scaled symmetrically.

    Parameters
    ----------
    sequence : str
        The letters to show, one per position.
    scores : numpy.ndarray
        One attribution score per position, [L] (e.g. summed over channels).
    scale : float or None
        The score that gets the full colour. Default is None: the largest absolute score
        of this locus. Give one scale to compare several loci on the same footing.

    Returns
    -------
    str
        A ``<div class="seqmap">`` (style it with :data:`SEQMAP_CSS`).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(sequence) != len(scores):
        raise ValueError(f"sequence has {len(sequence)} letters but {len(scores)} scores were given")
    if scale is None:
        scale = float(np.max(np.abs(scores))) if len(scores) else 0.0
    spans = []
    for i, (letter, score, (bg, fg)) in enumerate(zip(sequence, scores, _colors(scores, scale))):
        spans.append(f'<span style="background:{bg};color:{fg}" title="{i + 1}: {score:.3g}">'
                     f"{html.escape(letter)}</span>")
    return f'<div class="seqmap">{"".join(spans)}</div>'


def legend_html(scale: float | None = None) -> str:
    """A small colour bar explaining the maps (low, zero, high).

    Parameters
    ----------
    scale : float or None
        The score of the full colour, written at both ends. Default is None ("low" and
        "high").

    Returns
    -------
    str
        A ``<p class="seqmap-label">`` (style it with :data:`SEQMAP_CSS`).
    """
    text = f"{-scale:.3g} … 0 … {scale:.3g}" if scale else "low … 0 … high"
    return f'<p class="seqmap-label">attribution <span class="seqmap-legend"></span> {html.escape(text)}</p>'


def onehot_to_sequence(onehot: np.ndarray, letters: list[str] | str = "ACGT") -> str:
    """Letters of a one-hot [L, 4] array; an all-zero position is ``N``.

    Parameters
    ----------
    onehot : numpy.ndarray
        One-hot [L, C] (the largest channel of a position wins).
    letters : list of str or str
        The letter of each channel. Default is ``"ACGT"``.

    Returns
    -------
    str
        L letters.
    """
    onehot = np.asarray(onehot)
    index = onehot.argmax(axis=-1)
    present = onehot.max(axis=-1) > 0
    lookup = np.array(list(letters) + ["N"])
    return "".join(lookup[np.where(present, index, len(letters))])
