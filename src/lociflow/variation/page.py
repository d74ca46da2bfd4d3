"""The page of the top variants: attribution maps of both alleles and their difference.

For each of the ``top`` variants with the largest effect, both windows are attributed
for the class the variant changes most (integrated gradients, or in-silico mutagenesis),
and ``index.html`` shows, in the interpret dashboard's style, the effect and its rank,
sequence logos of the reference and the alternative allele around the variant (the
variant's bases shaded), the difference of the two maps (for SNVs and MNPs, whose
positions align; an indel shifts its flanks, so there the two maps are shown apart), and
coloured sequence maps of the whole windows. The arrays are kept in ``attributions.npz``.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from lociflow.config import VariantsConfig
from lociflow.io.atomic import atomic_open, write_text
from lociflow.layout import (
    ATTRIBUTIONS_FILE,
    DASHBOARD_FILE,
    SEQUENCE_BRANCH,
    TOP_VARIANTS_FILE,
    VARIANTS_FILE,
)
from lociflow.report import html_page, img_tag, key_values_html, save_figure, table_html
from lociflow.seqmap import SEQMAP_CSS, onehot_to_sequence, sequence_map_html
from lociflow.variation.alleles import allele_windows

log = logging.getLogger("lociflow.variants")

#: nucleotides shown on either side of the variant in the logos
_FLANK = 25

_CSS = """
.variant { border-top: 1px solid #d1d9e0; padding-top: .6rem; margin-top: .8rem; }
.variant h3 { font-size: 1rem; margin: .2rem 0; }
.variant .facts { color: #59636e; font-size: .85rem; }
.branch { font-size: .8rem; color: #59636e; margin: .3rem 0 0; }
.wide img { width: 100%; }
"""


def attribute_alleles(model, ref: dict[str, np.ndarray], alt: dict[str, np.ndarray], targets: np.ndarray,
                      method: str, steps: int = 32, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-position attribution of the sequence branch for both alleles.

    Parameters
    ----------
    model : LoadedModel
        The model.
    ref, alt : dict of str to numpy.ndarray
        The encoded reference and alternative windows, one array per branch.
    targets : numpy.ndarray
        int64 ``[N]``: the class attributed for each variant.
    method : str
        ``"ig"`` (integrated gradients from an all-zero baseline; the score at each
        position is that of the base present) or ``"ism"`` (in-silico mutagenesis; the
        score at each position is minus the mean change of the three substitutions, so a
        base the class relies on scores high).
    steps : int
        Integration steps for ``ig``. Default is 32.
    batch_size : int
        Rows per forward pass. Default is 256.

    Returns
    -------
    tuple of numpy.ndarray
        ``[N, window, 4]`` float32 contributions of the present bases (zero elsewhere),
        for the reference and the alternative windows.
    """
    from lociflow.interpretation.attribution import integrated_gradients
    from lociflow.interpretation.mutagenesis import in_silico_mutagenesis

    both = {b: np.concatenate([ref[b], alt[b]]) for b in model.branches}
    target = np.concatenate([targets, targets])
    onehot = both[SEQUENCE_BRANCH].astype(np.float32)
    if method == "ig":
        values = integrated_gradients(model.network, both, target, steps=steps, batch_size=batch_size,
                                      device=model.device, verbose=False).attributions[SEQUENCE_BRANCH]
        values = values * onehot
    else:
        change = in_silico_mutagenesis(model.network, both, target, batch_size=batch_size, device=model.device,
                                       verbose=False)
        channels = change.shape[-1]
        values = -(change.sum(axis=-1, keepdims=True) / max(channels - 1, 1)) * onehot
    values = np.asarray(values, dtype=np.float32)
    n = len(targets)
    return values[:n], values[n:]


def _figure(ref: np.ndarray, alt: np.ndarray, ref_at: tuple[int, int], alt_at: tuple[int, int],
            letters: list[str], aligned: bool, title: str, stem: Path) -> Path:
    import logomaker
    from matplotlib.figure import Figure

    rows = 3 if aligned else 2
    fig = Figure(figsize=(10, 1.6 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    panels = [(ref, ref_at, "REF"), (alt, alt_at, "ALT")]
    if aligned:
        panels.append((alt - ref, ref_at, "ALT - REF"))
    bound = max(float(np.abs(ref).max()), float(np.abs(alt).max()), 1e-9)
    for ax, (values, (lo, hi), label) in zip(axes, panels):
        first = max(0, lo - _FLANK)
        last = min(len(values), hi + _FLANK)
        frame = pd.DataFrame(values[first:last], columns=letters)
        frame.index = np.arange(first, last)
        logomaker.Logo(frame, ax=ax, color_scheme="classic")
        ax.axvspan(lo - 0.5, hi - 0.5, color="#ffd33d", alpha=0.35, zorder=0)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_ylim(-bound * 1.1, bound * 1.1)
        ax.set_ylabel(label, fontsize=8)
    axes[-1].set_xlabel("position in the window (nt)")
    axes[0].set_title(title, fontsize=9, loc="left")
    return save_figure(fig, stem, formats=("png",), dpi=80)[0]


def write_variant_page(folder: Path, model, scorer, cfg: VariantsConfig) -> Path:
    """Attribute both alleles of the top variants and write ``index.html``.

    Parameters
    ----------
    folder : Path
        The run folder.
    model : LoadedModel
        The model.
    scorer : VariantScorer
        After its ``stream``: its ``top`` list gives the variants and their order.
    cfg : VariantsConfig
        The stage's config (``attribute``, ``ig_steps``, ``batch_size``).

    Returns
    -------
    Path
        The page.
    """
    if SEQUENCE_BRANCH not in model.branches:
        log.warning("the model reads no sequence branch: no attribution page")
        return folder
    letters = list(model.channels[SEQUENCE_BRANCH])
    blocks, arrays, rows = [], {}, []
    with scorer.encoder() as encoder:
        for rank, (effect, _, variant, strand) in enumerate(scorer.top, start=1):
            windows = allele_windows(scorer.genome, [variant], model.window)
            ref, alt, _ = scorer.encode(encoder, [variant], windows, strand)
            both = {b: np.concatenate([ref[b], alt[b]]) for b in model.branches}
            probs = model.predict_proba(both, batch_size=2)
            delta = probs[1] - probs[0]
            # the first class (in the model's order) among those changed most: with two classes
            # both change equally, and rounding must not pick a different one per variant
            change = np.abs(delta)
            target = int(np.flatnonzero(change >= change.max() - 1e-6)[0])
            ref_map, alt_map = attribute_alleles(model, ref, alt, np.array([target]), cfg.attribute, cfg.ig_steps,
                                                 cfg.batch_size)
            ref_map, alt_map = ref_map[0], alt_map[0]
            arrays[f"ref_{rank}"], arrays[f"alt_{rank}"] = ref_map, alt_map
            lo = int(windows.offsets[0])
            alt_lo = int(windows.alt_offsets[0])
            ref_at, alt_at = (lo, lo + len(variant.ref)), (alt_lo, alt_lo + len(variant.alt))
            if strand == "-":  # the network saw the reverse complement: positions count from the other end
                ref_at = (model.window - ref_at[1], model.window - ref_at[0])
                alt_at = (model.window - alt_at[1], model.window - alt_at[0])
            aligned = len(variant.ref) == len(variant.alt)
            cls = model.classes[target]
            title = (f"{rank}. {variant.id} {variant.chrom}:{variant.pos} {variant.ref}>{variant.alt} ({strand}): "
                     f"p({cls}) {probs[0, target]:.3f} -> {probs[1, target]:.3f}")
            figure = _figure(ref_map, alt_map, ref_at, alt_at, letters, aligned, title,
                             folder / "plots" / f"variant_{rank:03d}")
            scale = max(float(np.abs(ref_map.sum(1)).max()), float(np.abs(alt_map.sum(1)).max()), 1e-9)
            ref_text = onehot_to_sequence(ref[SEQUENCE_BRANCH][0], letters)
            alt_text = onehot_to_sequence(alt[SEQUENCE_BRANCH][0], letters)
            blocks.append(
                f'<div class="variant"><h3>{rank}. {html.escape(variant.id)}: {html.escape(variant.chrom)}:'
                f'{variant.pos} {html.escape(variant.ref)}&gt;{html.escape(variant.alt)}</h3>'
                f'<div class="facts">rank {rank} of {len(scorer.top)} by the largest change of a class probability; '
                f'p({html.escape(cls)}) {probs[0, target]:.4f} (REF) → {probs[1, target]:.4f} (ALT), '
                f'change {delta[target]:+.4f}; {html.escape(strand)} strand</div>'
                f'<div class="wide">{img_tag(figure, alt=variant.id)}</div>'
                f'<p class="branch">REF window</p>{sequence_map_html(ref_text, ref_map.sum(1), scale)}'
                f'<p class="branch">ALT window</p>{sequence_map_html(alt_text, alt_map.sum(1), scale)}</div>')
            rows.append({"rank": rank, "id": variant.id, "chrom": variant.chrom, "pos": variant.pos,
                         "ref": variant.ref, "alt": variant.alt, "strand": strand, "class": cls,
                         "p_ref": float(probs[0, target]), "p_alt": float(probs[1, target]),
                         "change": float(delta[target]), "effect": effect})
    with atomic_open(folder / ATTRIBUTIONS_FILE, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    method = "integrated gradients" if cfg.attribute == "ig" else "in-silico mutagenesis"
    overview = key_values_html({"model": model.path, "variants": cfg.vcf, "attribution": method,
                                "variants shown": len(rows)}) + table_html(pd.DataFrame(rows))
    files = (f"<p><code>{VARIANTS_FILE}</code>: every variant's effect, in input order. "
             f"<code>{TOP_VARIANTS_FILE}</code>: the top variants. <code>{ATTRIBUTIONS_FILE}</code>: the maps "
             "(<code>ref_&lt;rank&gt;</code>, <code>alt_&lt;rank&gt;</code>, window x base).</p>")
    sections = [("Top variants", overview), ("Attribution of both alleles",
                 f"<p>Logos: each base's contribution to the class the variant changes most ({method}), "
                 f"{_FLANK} nt either side of the variant (shaded); red letters in the maps push the class up, "
                 "blue down.</p>" + "".join(blocks)), ("Files", files)]
    page = html_page("lociflow variant effects", sections, subtitle=f"{model.path} on {cfg.vcf}",
                     extra_css=SEQMAP_CSS + _CSS)
    path = folder / DASHBOARD_FILE
    write_text(path, page)
    return path
