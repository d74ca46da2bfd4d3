"""Global importance analysis: what a motif does to the model on its own.

Attribution maps say what mattered in one sequence; global importance analysis (Koo et
al. 2021, PLoS Comput Biol 17:e1008925) asks a causal question of the model: insert a
motif into many background sequences that look like real loci but carry none of their
motifs (dinucleotide shuffles of real loci) and measure the mean change of each class
score. A control inserts the motif's own shuffle (same letters, another order) at the
same places, so an effect of base composition alone shows up as a control effect.
Scanning the insertion position shows where in the window the model listens; inserting
two motifs shows how their effect depends on their spacing.

The class score is the logit (see :mod:`lociflow.interpretation.scoring`). Only the sequence
branch is changed; other branches (structure, conservation) keep the values of the locus
each background was shuffled from.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from lociflow.errors import LociflowError
from lociflow.interpretation.motifdb import (
    IUPAC,
    MotifDatabase,
    consensus,
    ppm_from_consensus,
)
from lociflow.interpretation.scoring import class_scores, progress
from lociflow.preprocessing.shuffle import dinucleotide_shuffle

log = logging.getLogger("lociflow.interpret.gia")

__all__ = [
    "GIAResult",
    "ScanResult",
    "resolve_motif",
    "make_backgrounds",
    "global_importance",
    "position_scan",
    "spacing_scan",
    "plot_effects",
    "plot_scan",
]


class GIAResult(NamedTuple):
    """Mean change of each class score: ``effect [K]`` for the motif, ``control [K]`` for its
    shuffle, ``effect_sd [K]`` / ``control_sd [K]`` across backgrounds, the inserted
    ``motif`` and ``shuffled`` strings, and the insertion ``position``."""

    effect: np.ndarray
    control: np.ndarray
    effect_sd: np.ndarray
    control_sd: np.ndarray
    motif: str
    shuffled: str
    position: int


class ScanResult(NamedTuple):
    """Effects along a scan: ``values [P]`` (positions or spacings), ``effect [P, K]``,
    ``control [P, K]`` (the shuffled motif(s) at the same places)."""

    values: np.ndarray
    effect: np.ndarray
    control: np.ndarray


def resolve_motif(motif: str | np.ndarray, database: MotifDatabase | None = None) -> tuple[str, str]:
    """A motif given as a consensus (IUPAC), a JASPAR ID or name, or a ``[L, 4]`` matrix.

    Parameters
    ----------
    motif : str or numpy.ndarray
        IUPAC letters (U reads as T), a JASPAR ID or name (looked up in ``database``),
        or a ``[L, 4]`` probability matrix.
    database : MotifDatabase or None
        Where to look up IDs and names. Default is None (only consensus strings and
        matrices are accepted).

    Returns
    -------
    label : str
        How to name it in tables and plots.
    pattern : str
        The IUPAC string inserted (a matrix or database motif gives its consensus).
    """
    if isinstance(motif, np.ndarray):
        if motif.ndim != 2 or motif.shape[1] != 4:
            raise LociflowError(f"A motif matrix must be shaped [length, 4]; got {motif.shape}.")
        pattern = consensus(motif)
        return pattern, pattern
    text = str(motif).strip()
    if text and all(ch in IUPAC for ch in text.upper()):
        pattern = text.upper().replace("U", "T")
        return text, pattern
    if database is None:
        raise LociflowError(
            f"Motif {text!r} is not a nucleotide/IUPAC string, and no motif database was given to look it up."
        )
    found = database.get(text)
    return f"{found.id} {found.name}", consensus(found.ppm)


def _sample(pattern: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` concrete one-hot instances ``[n, m, 4]`` of an IUPAC pattern (ambiguous letters drawn)."""
    ppm = ppm_from_consensus(pattern)
    cum = ppm.cumsum(axis=1)
    draws = rng.random((n, len(pattern), 1))
    letters = (draws > cum[None]).sum(axis=2).clip(0, 3)
    return np.eye(4, dtype=np.float32)[letters]


def _shuffled(pattern: str, rng: np.random.Generator) -> str:
    """The letters of ``pattern`` in another order (the same order only if no other exists)."""
    letters = list(pattern)
    for _ in range(50):
        candidate = "".join(rng.permutation(letters))
        if candidate != pattern:
            return candidate
    return pattern


def make_backgrounds(
    inputs: Mapping[str, np.ndarray],
    n: int = 200,
    branch: str = "seq",
    random_state: int | None = 0,
) -> dict[str, np.ndarray]:
    """``n`` backgrounds: one dinucleotide shuffle each of ``n`` loci drawn from ``inputs``.

    Other branches keep the values of the locus each shuffle came from.

    Parameters
    ----------
    inputs : mapping of str to numpy.ndarray
        ``[N, L, C]`` arrays keyed by branch.
    n : int
        Number of backgrounds; loci are drawn without replacement unless ``N < n``.
        Default is 200.
    branch : str
        The one-hot sequence branch that is shuffled. Default is ``"seq"``.
    random_state : int or None
        Seed of the draw and the shuffles. Default is 0.

    Returns
    -------
    dict of str to numpy.ndarray
        float32 ``[n, L, C]`` arrays per branch, rows in input order.
    """
    if branch not in inputs:
        raise LociflowError(f"Global importance analysis needs the {branch!r} branch; the inputs have {sorted(inputs)}.")
    total = inputs[branch].shape[0]
    if total == 0:
        raise LociflowError("No loci to build backgrounds from.")
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(total, size=n, replace=total < n))
    out = {b: np.asarray(a[rows], dtype=np.float32) for b, a in inputs.items()}
    out[branch] = dinucleotide_shuffle(out[branch], 1, rng)[:, 0].astype(np.float32)
    return out


def _insert(backgrounds: np.ndarray, instances: np.ndarray, position: int) -> np.ndarray:
    out = backgrounds.copy()
    out[:, position:position + instances.shape[1], :] = instances
    return out


def _check_position(position: int, length: int, window: int) -> None:
    if not 0 <= position <= window - length:
        raise LociflowError(
            f"A motif of {length} nt at position {position} does not fit a window of {window} nt "
            f"(positions 0 to {window - length})."
        )


def _effects(network, backgrounds, branch, variants, base, batch_size, device):
    """Mean and SD of (score with the variant - background score) for each variant array."""
    out = []
    for seqs in variants:
        scored = class_scores(network, {**backgrounds, branch: seqs}, None, batch_size, device)
        out.append(scored - base)
    return out


def global_importance(
    network: nn.Module,
    backgrounds: Mapping[str, np.ndarray],
    motif: str | np.ndarray,
    position: int | None = None,
    database: MotifDatabase | None = None,
    branch: str = "seq",
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    random_state: int | None = 0,
    verbose: bool = False,
) -> GIAResult:
    """Mean change of every class score when ``motif`` is inserted at ``position``.

    Parameters
    ----------
    network : torch.nn.Module
        A lociflow network.
    backgrounds : dict of str to numpy.ndarray
        Background inputs per branch (see :func:`make_backgrounds`).
    motif : str or numpy.ndarray
        A consensus (IUPAC letters; U reads as T), a JASPAR ID or name (needs
        ``database``), or a ``[L, 4]`` matrix (its consensus is inserted).
    position : int or None
        Start of the insertion; None centres the motif. Default is None.
    database : MotifDatabase or None
        Where to look up motif names. Default is None.
    branch : str
        The sequence branch the motif goes into. Default is ``"seq"``.
    batch_size : int
        Sequences per forward pass. Default is 256.
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"auto"``. Default is ``"cpu"``.
    random_state : int or None
        Seed of the motif instances (ambiguous letters are drawn) and of the shuffled
        control. Default is 0.
    verbose : bool
        Show a progress bar. Default is False.

    Returns
    -------
    GIAResult
        Mean and SD over backgrounds of each class's logit change with the motif and
        with its shuffle, the inserted and shuffled strings and the position.
    """
    label, pattern = resolve_motif(motif, database)
    bg = backgrounds[branch]
    window = bg.shape[1]
    position = (window - len(pattern)) // 2 if position is None else int(position)
    _check_position(position, len(pattern), window)
    rng = np.random.default_rng(random_state)
    shuffled = _shuffled(pattern, rng)
    base = class_scores(network, backgrounds, None, batch_size, device, verbose)
    with_motif, with_control = _effects(
        network, backgrounds, branch,
        [_insert(bg, _sample(pattern, len(bg), rng), position), _insert(bg, _sample(shuffled, len(bg), rng), position)],
        base, batch_size, device,
    )
    log.info("GIA %s at %d: mean class-score change per class %s (shuffled %s: %s)", label, position,
             per_class_text(with_motif.mean(0)), shuffled, per_class_text(with_control.mean(0)))
    return GIAResult(with_motif.mean(0), with_control.mean(0), with_motif.std(0), with_control.std(0),
                     pattern, shuffled, position)


def per_class_text(values, classes=None, digits: int = 3) -> str:
    """Per-class numbers for a log line, rounded and signed, never float32 noise such as
    2.1649999618530273.

    Parameters
    ----------
    values : array-like
        One number per class.
    classes : list of str, optional
        Class names to put before the numbers. Default is None (numbers only).
    digits : int
        Decimals shown. Default is 3.

    Returns
    -------
    str
        ``"+2.165, -2.508"``, or ``"bound +2.165, unbound -2.508"`` with ``classes``.
    """
    values = [float(v) for v in np.asarray(values).ravel()]
    if classes is None:
        return ", ".join(f"{v:+.{digits}f}" for v in values)
    return ", ".join(f"{c} {v:+.{digits}f}" for c, v in zip(classes, values))


def position_scan(
    network: nn.Module,
    backgrounds: Mapping[str, np.ndarray],
    motif: str | np.ndarray,
    positions: Sequence[int] | None = None,
    database: MotifDatabase | None = None,
    branch: str = "seq",
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    random_state: int | None = 0,
    verbose: bool = False,
) -> ScanResult:
    """The motif's mean effect at each insertion position (default: about 50 positions across the window).

    Parameters
    ----------
    network : torch.nn.Module
        A lociflow network.
    backgrounds : mapping of str to numpy.ndarray
        Background inputs per branch (see :func:`make_backgrounds`).
    motif : str or numpy.ndarray
        As in :func:`global_importance`.
    positions : sequence of int or None
        Insertion starts; each must leave room for the motif. Default is None (up to 50
        evenly spaced starts from 0 to the last that fits).
    database : MotifDatabase or None
        Where to look up motif names. Default is None.
    branch : str
        The sequence branch the motif goes into. Default is ``"seq"``.
    batch_size : int
        Sequences per forward pass. Default is 256.
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"auto"``. Default is ``"cpu"``.
    random_state : int or None
        Seed of the motif instances (ambiguous letters are drawn) and of the shuffled
        control. Default is 0.
    verbose : bool
        Show a progress bar. Default is False.

    Returns
    -------
    ScanResult
        ``values`` are the positions; ``effect`` and ``control`` the mean logit change
        per position and class.
    """
    _, pattern = resolve_motif(motif, database)
    bg = backgrounds[branch]
    window, m = bg.shape[1], len(pattern)
    if positions is None:
        positions = np.unique(np.linspace(0, window - m, num=min(50, window - m + 1)).round().astype(int))
    positions = np.asarray(positions, dtype=int)
    for p in positions:
        _check_position(int(p), m, window)
    rng = np.random.default_rng(random_state)
    shuffled = _shuffled(pattern, rng)
    instances, controls = _sample(pattern, len(bg), rng), _sample(shuffled, len(bg), rng)
    base = class_scores(network, backgrounds, None, batch_size, device)
    effect, control = [], []
    with progress("GIA position scan", len(positions), verbose, unit="position") as pbar:
        for p in positions:
            e, c = _effects(network, backgrounds, branch,
                            [_insert(bg, instances, p), _insert(bg, controls, p)], base, batch_size, device)
            effect.append(e.mean(0))
            control.append(c.mean(0))
            pbar.update(1)
    return ScanResult(positions, np.array(effect), np.array(control))


def spacing_scan(
    network: nn.Module,
    backgrounds: Mapping[str, np.ndarray],
    first: str | np.ndarray,
    second: str | np.ndarray,
    spacings: Sequence[int] | None = None,
    database: MotifDatabase | None = None,
    branch: str = "seq",
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    random_state: int | None = 0,
    verbose: bool = False,
) -> ScanResult:
    """The effect of two motifs against the gap between them (end of the first to start of the second).

    The pair is centred in the window. The control inserts both motifs' shuffles with
    the same spacings.

    Parameters
    ----------
    network : torch.nn.Module
        A lociflow network.
    backgrounds : mapping of str to numpy.ndarray
        Background inputs per branch (see :func:`make_backgrounds`).
    first, second : str or numpy.ndarray
        The two motifs, in window order; as in :func:`global_importance`.
    spacings : sequence of int or None
        Gaps in nt, each from 0 to what the window leaves. Default is None (up to 40
        evenly spaced gaps over that range).
    database : MotifDatabase or None
        Where to look up motif names. Default is None.
    branch : str
        The sequence branch the motif goes into. Default is ``"seq"``.
    batch_size : int
        Sequences per forward pass. Default is 256.
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"auto"``. Default is ``"cpu"``.
    random_state : int or None
        Seed of the motif instances (ambiguous letters are drawn) and of the shuffled
        control. Default is 0.
    verbose : bool
        Show a progress bar. Default is False.

    Returns
    -------
    ScanResult
        ``values`` are the spacings; ``effect`` and ``control`` the mean logit change
        per spacing and class.
    """
    _, a = resolve_motif(first, database)
    _, b = resolve_motif(second, database)
    bg = backgrounds[branch]
    window = bg.shape[1]
    room = window - len(a) - len(b)
    if room < 0:
        raise LociflowError(f"Motifs of {len(a)} and {len(b)} nt do not fit together in a window of {window} nt.")
    if spacings is None:
        spacings = np.unique(np.linspace(0, room, num=min(40, room + 1)).round().astype(int))
    spacings = np.asarray(spacings, dtype=int)
    bad = spacings[(spacings < 0) | (spacings > room)]
    if len(bad):
        raise LociflowError(f"Spacing {int(bad[0])} does not fit: with these motifs the gap can be 0 to {room} nt.")
    rng = np.random.default_rng(random_state)
    sa, sb = _shuffled(a, rng), _shuffled(b, rng)
    ia, ib, ca, cb = (_sample(x, len(bg), rng) for x in (a, b, sa, sb))
    base = class_scores(network, backgrounds, None, batch_size, device)
    effect, control = [], []
    with progress("GIA spacing scan", len(spacings), verbose, unit="spacing") as pbar:
        for gap in spacings:
            start = (window - (len(a) + gap + len(b))) // 2
            second_at = start + len(a) + gap
            pair = _insert(_insert(bg, ia, start), ib, second_at)
            pair_control = _insert(_insert(bg, ca, start), cb, second_at)
            e, c = _effects(network, backgrounds, branch, [pair, pair_control], base, batch_size, device)
            effect.append(e.mean(0))
            control.append(c.mean(0))
            pbar.update(1)
    return ScanResult(spacings, np.array(effect), np.array(control))


def plot_effects(results: Mapping[str, GIAResult], classes: Sequence[str], stem) -> list:
    """Bar chart: each motif's mean class-score change next to its shuffled control.

    Parameters
    ----------
    results : mapping of str to GIAResult
        Results by motif label; one group of bars each.
    classes : sequence of str
        Class names, in the order of the results' ``effect`` entries.
    stem : str or os.PathLike
        Output path without extension.

    Returns
    -------
    list of Path
        The files written (PNG and SVG, see :func:`lociflow.report.save_figure`).
    """
    from lociflow.report import new_figure, save_figure

    names = list(results)
    fig = new_figure(max(4.0, 1.6 * len(names) * len(classes) ** 0.5 + 2), 3.2)
    ax = fig.add_subplot()
    width = 0.8 / (2 * len(classes))
    x = np.arange(len(names))
    colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for k, cls in enumerate(classes):
        colour = colours[k % len(colours)]
        ax.bar(x + (2 * k) * width, [results[n].effect[k] for n in names], width,
               yerr=[results[n].effect_sd[k] for n in names], color=colour, label=f"{cls}: motif", capsize=2)
        ax.bar(x + (2 * k + 1) * width, [results[n].control[k] for n in names], width,
               color=colour, alpha=0.35, hatch="//", label=f"{cls}: shuffled motif")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x + width * (len(classes) - 0.5), names)
    ax.set_ylabel("mean change of class score (logit)")
    ax.legend(fontsize=8, frameon=False)
    return save_figure(fig, stem)


def plot_scan(scan: ScanResult, classes: Sequence[str], stem, xlabel: str, title: str) -> list:
    """Line plot of a position or spacing scan, one line per class, dashed for the control.

    Parameters
    ----------
    scan : ScanResult
        From :func:`position_scan` or :func:`spacing_scan`.
    classes : sequence of str
        Class names, in the order of the effect columns.
    stem : str or os.PathLike
        Output path without extension.
    xlabel : str
        Label of the x axis (position or spacing).
    title : str
        The plot title.

    Returns
    -------
    list of Path
        The files written (PNG and SVG, see :func:`lociflow.report.save_figure`).
    """
    from lociflow.report import new_figure, save_figure

    fig = new_figure(6.0, 3.2)
    ax = fig.add_subplot()
    colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for k, cls in enumerate(classes):
        colour = colours[k % len(colours)]
        ax.plot(scan.values, scan.effect[:, k], color=colour, label=cls)
        ax.plot(scan.values, scan.control[:, k], color=colour, linestyle="--", alpha=0.6, label=f"{cls} (shuffled)")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean change of class score")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return save_figure(fig, stem)
