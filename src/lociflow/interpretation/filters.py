"""First-layer convolution filters as motifs: PWMs, influence, and JASPAR matches.

A first-layer filter of a sequence branch is a motif detector. The motif it detects is
read from the data, not from its weights: every input window whose activation exceeds
a fraction of the filter's largest activation over the dataset is counted into a
position frequency matrix (Alipanahi et al. 2015; Kelley et al. 2016). The filter's
*influence* is how much the predictions change when its output is silenced (set to
zero) for every locus. Tomtom then says which known motif each filter resembles.

Everything is batched: one forward pass (cut short after the first convolution) finds
the largest activations, a second counts the windows, and the influence pass runs the
whole network once per filter and batch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from lociflow.errors import LociflowError
from lociflow.interpretation.scoring import (
    attribution_mode,
    ordered_inputs,
    progress,
    to_tensors,
)
from lociflow.model.device import resolve_device

log = logging.getLogger("lociflow.interpret.filters")

__all__ = ["FilterResult", "filter_motifs", "filter_pfms", "filter_influence", "filter_table", "trim_ppm",
           "information_content", "base_composition", "interpretable_first_layer", "MIN_INFORMATION"]


class FilterResult(NamedTuple):
    """Per first-layer filter: counts ``pfms [F, k, C]``, ``n_sites [F]``, ``max_activation [F]``,
    ``influence [F]`` (mean total-variation change of the predicted probabilities when the
    filter is silenced) and ``class_change [F, K]`` (mean signed change of each class
    probability)."""

    pfms: np.ndarray
    n_sites: np.ndarray
    max_activation: np.ndarray
    influence: np.ndarray
    class_change: np.ndarray


class _Stop(Exception):
    """Raised by a hook to end a forward pass once the first convolution has run."""


def _windows(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """The input windows ``[B, L', k, C]`` each output position of ``conv`` reads."""
    (k,), (d,), (s,) = conv.kernel_size, conv.dilation, conv.stride
    if isinstance(conv.padding, str):
        total = d * (k - 1) if conv.padding == "same" else 0
        left, right = total // 2, total - total // 2
    else:
        left = right = int(conv.padding[0])
    x = F.pad(x, (left, right))
    span = d * (k - 1) + 1
    win = x.unfold(2, span, s)[..., ::d]  # [B, C, L', k]
    return win.permute(0, 2, 3, 1)


def _check_conv(conv: nn.Module, channels: int) -> None:
    if not isinstance(conv, nn.Conv1d):
        raise LociflowError(f"Filter analysis needs the first layer to be a 1-D convolution, got {type(conv).__name__}.")
    if conv.groups != 1 or conv.in_channels != channels:
        raise LociflowError(
            f"The first convolution reads {conv.in_channels} channels (groups={conv.groups}); "
            f"filter motifs need it to read the {channels} one-hot channels of the sequence directly."
        )


def filter_pfms(
    network: nn.Module,
    inputs: Mapping[str, np.ndarray],
    conv: nn.Conv1d,
    branch: str = "seq",
    threshold: float = 0.5,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count the windows that activate each filter above ``threshold`` x its largest activation.

    Why: a filter's weights are not a motif (they can be negative, and their scale is
    arbitrary); the sequences it responds to are.

    Parameters
    ----------
    network : torch.nn.Module
        A lociflow network (``branches`` attribute, inputs ``[B, L, C]``).
    inputs : dict of str to numpy.ndarray
        Arrays per branch, ``[N, L, C]``.
    conv : torch.nn.Conv1d
        The first convolution of ``branch``; its input must be the one-hot sequence.
    branch : str
        The sequence branch. Default is ``"seq"``.
    threshold : float
        Fraction of each filter's largest activation over the dataset that a window must
        exceed to be counted. Default is 0.5.
    batch_size : int
        Loci per forward pass. Default is 256.
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"auto"``. Default is ``"cpu"``.
    verbose : bool
        Show a progress bar. Default is False.

    Returns
    -------
    pfms : numpy.ndarray
        ``[F, k, C]`` counts of each letter at each filter position.
    n_sites : numpy.ndarray
        ``[F]`` windows counted per filter.
    max_activation : numpy.ndarray
        ``[F]`` the largest activation of each filter over the dataset.
    """
    arrays = ordered_inputs(network, inputs)
    if branch not in network.branches:
        raise LociflowError(f"The model has no {branch!r} branch; it reads {network.branches}.")
    channels = arrays[network.branches.index(branch)].shape[2]
    _check_conv(conv, channels)
    if not 0 < threshold < 1:
        raise LociflowError(f"The activation threshold must lie between 0 and 1 (a fraction of the maximum), got {threshold}.")
    dev = resolve_device(device)
    n = arrays[0].shape[0]
    n_filters, k = conv.out_channels, conv.kernel_size[0]
    state: dict[str, torch.Tensor] = {}

    def grab(module, args, output):
        state["x"], state["y"] = args[0], output
        raise _Stop

    def passes(description: str):
        with attribution_mode(network, dev), torch.inference_mode(), progress(description, n, verbose) as pbar:
            handle = conv.register_forward_hook(grab)
            try:
                for lo in range(0, n, batch_size):
                    try:
                        network(*to_tensors(arrays, slice(lo, lo + batch_size), dev))
                    except _Stop:
                        pass
                    else:
                        raise LociflowError("The given convolution is not part of the network's forward pass.")
                    yield state["x"], state["y"]
                    pbar.update(min(batch_size, n - lo))
            finally:
                handle.remove()

    top = torch.full((n_filters,), -torch.inf, device=dev)
    for _, y in passes("Filter activations"):
        top = torch.maximum(top, y.amax(dim=(0, 2)))
    cut = (threshold * top.clamp(min=0)).view(1, -1, 1)
    # counts per batch are exact in float32; they are summed in float64 on the CPU (MPS has no float64)
    pfms = np.zeros((n_filters, k, channels), dtype=np.float64)
    sites = np.zeros(n_filters, dtype=np.int64)
    for x, y in passes("Filter sites"):
        mask = ((y > cut) & (y > 0)).float()  # [B, F, L']
        windows = _windows(conv, x).float()  # [B, L', k, C]
        pfms += torch.einsum("bfl,blkc->fkc", mask, windows).cpu().double().numpy()
        sites += mask.sum(dim=(0, 2)).cpu().numpy().astype(np.int64)
    return pfms, sites, top.cpu().numpy()


def filter_influence(
    network: nn.Module,
    inputs: Mapping[str, np.ndarray],
    conv: nn.Conv1d,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """How much the predictions change when each filter's output is set to zero.

    Parameters
    ----------
    network : torch.nn.Module
        A lociflow network (``branches`` attribute, inputs ``[B, L, C]``).
    inputs : dict of str to numpy.ndarray
        Arrays per branch, ``[N, L, C]``.
    conv : torch.nn.Conv1d
        The convolution whose filters are silenced one at a time.
    batch_size : int
        Loci per forward pass. Default is 256.
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"auto"``. Default is ``"cpu"``.
    verbose : bool
        Show a progress bar. Default is False.

    Returns
    -------
    influence : numpy.ndarray
        ``[F]`` mean over loci of the total-variation distance between the class
        probabilities with and without the filter (0: no effect, 1: the prediction flips
        completely).
    class_change : numpy.ndarray
        ``[F, K]`` mean signed change of each class probability (silenced minus intact).
    """
    arrays = ordered_inputs(network, inputs)
    dev = resolve_device(device)
    n = arrays[0].shape[0]
    n_filters = conv.out_channels
    silenced: dict[str, int | None] = {"f": None}

    def silence(module, args, output):
        f = silenced["f"]
        if f is None:
            return None
        output = output.clone()
        output[:, f, :] = 0
        return output

    influence = np.zeros(n_filters)
    change = np.zeros((n_filters, int(getattr(network, "classes_count", 0)) or 1))
    # the bar counts loci: each batch is scored once whole and once per silenced filter
    description = f"Filter influence ({n_filters} filters silenced in turn)"
    with attribution_mode(network, dev), torch.inference_mode(), progress(description, n, verbose) as pbar:
        handle = conv.register_forward_hook(silence)
        try:
            for lo in range(0, n, batch_size):
                batch = to_tensors(arrays, slice(lo, lo + batch_size), dev)
                silenced["f"] = None
                base = torch.softmax(network(*batch).float(), dim=1)
                if change.shape[1] != base.shape[1]:
                    change = np.zeros((n_filters, base.shape[1]))
                for f in range(n_filters):
                    silenced["f"] = f
                    delta = torch.softmax(network(*batch).float(), dim=1) - base
                    influence[f] += float(0.5 * delta.abs().sum(dim=1).sum())
                    change[f] += delta.sum(dim=0).double().cpu().numpy()
                pbar.update(len(base))
        finally:
            silenced["f"] = None
            handle.remove()
    return influence / max(n, 1), change / max(n, 1)


def filter_motifs(
    network: nn.Module,
    inputs: Mapping[str, np.ndarray],
    conv: nn.Conv1d,
    branch: str = "seq",
    threshold: float = 0.5,
    influence_loci: int | None = 1000,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    random_state: int | None = 0,
    verbose: bool = False,
) -> FilterResult:
    """PWMs and influence of every first-layer filter of ``branch`` (see module docstring).

    Parameters
    ----------
    network : torch.nn.Module
        A lociflow network (``branches`` attribute, inputs ``[B, L, C]``).
    inputs : dict of str to numpy.ndarray
        Arrays per branch, ``[N, L, C]``.
    conv : torch.nn.Conv1d
        The first convolution of ``branch``; its input must be the one-hot sequence.
    branch : str
        The sequence branch. Default is ``"seq"``.
    threshold : float
        Fraction of each filter's largest activation that a window must exceed to be
        counted (see :func:`filter_pfms`). Default is 0.5.
    influence_loci : int or None
        Caps the loci (drawn with ``random_state``) used for the influence pass, which
        costs one forward pass per filter; None uses every locus. Default is 1000.
    batch_size : int
        Loci per forward pass. Default is 256.
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"auto"``. Default is ``"cpu"``.
    random_state : int or None
        Seeds the draw of the influence loci. Default is 0.
    verbose : bool
        Show a progress bar. Default is False.

    Returns
    -------
    FilterResult
        The counts, sites and largest activation of :func:`filter_pfms` and the influence
        and class change of :func:`filter_influence`.
    """
    pfms, sites, top = filter_pfms(network, inputs, conv, branch, threshold, batch_size, device, verbose)
    n = next(iter(inputs.values())).shape[0]
    rows = np.arange(n)
    if influence_loci is not None and n > influence_loci:
        rows = np.sort(np.random.default_rng(random_state).choice(n, influence_loci, replace=False))
    subset = {b: np.asarray(a[rows]) for b, a in inputs.items()}
    influence, change = filter_influence(network, subset, conv, batch_size, device, verbose)
    return FilterResult(pfms, sites, top, influence, change)


def trim_ppm(ppm: np.ndarray, min_bits: float = 0.3, background: np.ndarray | None = None) -> np.ndarray:
    """Drop low-information columns at both ends (they only blur a Tomtom comparison).

    Parameters
    ----------
    ppm : numpy.ndarray
        A ``[L, 4]`` probability matrix.
    min_bits : float
        The information content an end column needs to be kept. Default is 0.3.
    background : numpy.ndarray, optional
        Letter frequencies ``[A]`` the information is measured against (see
        :func:`information_content`). Default is None (uniform).

    Returns
    -------
    numpy.ndarray
        The rows from the first to the last column with at least ``min_bits``; no rows
        when no column has as many.
    """
    ppm = np.asarray(ppm, dtype=np.float64)
    ic = information_content(ppm, background)
    keep = np.where(ic >= min_bits)[0]
    if len(keep) == 0:
        return ppm[:0]
    return ppm[keep[0]: keep[-1] + 1]


def information_content(ppm: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """Bits per column of a ``[L, A]`` probability matrix, relative to a background.

    The relative entropy ``sum_b p_b log2(p_b / q_b)`` of each column against the letter
    frequencies ``q``: with a uniform background, ``log2(A)`` minus the column's entropy.
    Against the data's own composition, a filter that only prefers the letters the data
    is rich in (GC-rich promoters, AU-rich UTRs) carries little information.

    Parameters
    ----------
    ppm : numpy.ndarray
        A ``[L, A]`` probability matrix (A letters).
    background : numpy.ndarray, optional
        ``[A]`` letter frequencies (need not sum to 1). Default is None (uniform).

    Returns
    -------
    numpy.ndarray
        ``[L]`` bits, at least 0.
    """
    p = np.clip(np.asarray(ppm, dtype=np.float64), 1e-9, 1)
    q = np.full(p.shape[1], 1.0 / p.shape[1]) if background is None else np.asarray(background, dtype=np.float64)
    q = np.clip(q / q.sum(), 1e-9, 1)
    return np.maximum((p * np.log2(p / q)).sum(axis=1), 0.0)


def base_composition(onehot: np.ndarray) -> np.ndarray:
    """The letter frequencies of one-hot sequences, counting only known positions.

    Parameters
    ----------
    onehot : numpy.ndarray
        ``[N, L, A]`` one-hot rows; padding and unknown bases (all-zero rows) are not counted.

    Returns
    -------
    numpy.ndarray
        ``[A]`` frequencies summing to 1 (uniform when nothing is known).
    """
    counts = np.asarray(onehot, dtype=np.float64).reshape(-1, np.shape(onehot)[-1]).sum(axis=0)
    return counts / counts.sum() if counts.sum() > 0 else np.full(len(counts), 1.0 / len(counts))


MIN_INFORMATION = 6.0
"""Bits a filter's trimmed PWM needs (against the data's composition) to be matched to
known motifs: the information of three fully specified bases. Below it a filter prefers
letters rather than a motif, and Tomtom's matches of such a PWM (often long GC-rich
motifs) are chance."""


def to_ppm(pfm: np.ndarray, pseudocount: float = 0.5) -> np.ndarray:
    """Counts to probabilities, with a small pseudocount so that no letter is impossible.

    Parameters
    ----------
    pfm : numpy.ndarray
        ``[L, A]`` counts.
    pseudocount : float
        Added to every count. Default is 0.5.

    Returns
    -------
    numpy.ndarray
        ``[L, A]``, each row summing to 1.
    """
    pfm = np.asarray(pfm, dtype=np.float64) + pseudocount
    return pfm / pfm.sum(axis=1, keepdims=True)


def filter_table(
    result: FilterResult,
    database,
    top: int = 3,
    min_sites: int = 10,
    classes: list[str] | None = None,
    alphabet: str = "ACGT",
    background: np.ndarray | None = None,
    min_information: float = MIN_INFORMATION,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A summary row per filter and the Tomtom matches (``filters_tomtom.tsv``).

    Each filter's PWM is its counted windows (:func:`filter_pfms`: every window whose
    activation exceeds the threshold fraction of the filter's largest), as probabilities
    with a pseudocount, trimmed of end columns under 0.3 bits. Filters with fewer than
    ``min_sites`` counted windows get no PWM: a motif read from a handful of windows is
    noise. Filters whose trimmed PWM carries less than ``min_information`` bits (against
    ``background``) are *uninformative*: shown, but not matched to known motifs.

    Parameters
    ----------
    result : FilterResult
        The result of :func:`filter_motifs`.
    database : MotifDatabase or None
        The motifs to match against (see :func:`lociflow.interpretation.motifdb.load_motifs`);
        None matches nothing.
    top : int
        Tomtom matches kept per filter. Default is 3.
    min_sites : int
        Counted windows a filter needs for a PWM and matches. Default is 10.
    classes : list of str or None
        Class names for the ``change_<class>`` columns. Default is None
        (``class0``, ``class1``, ...).
    alphabet : str
        The letters of the channels, for the consensus. Default is ``"ACGT"``.
    background : numpy.ndarray, optional
        Letter frequencies of the data (:func:`base_composition`) the information is
        measured against. Default is None (uniform).
    min_information : float
        Bits a trimmed PWM needs to be matched. Default is :data:`MIN_INFORMATION` (6).

    Returns
    -------
    summary : pandas.DataFrame
        ``filter, n_sites, influence, information_content, informative, consensus,
        best_match, best_name, p_value, q_value`` plus ``change_<class>`` per class, sorted
        by influence (most first), then by q-value (strongest match first).
    matches : pandas.DataFrame
        ``filter, rank, jaspar_id, name, p_value, q_value, offset, strand``.
    """
    from lociflow.interpretation.motifdb import consensus, tomtom_matches

    ppms, bits = {}, {}
    for f, pfm in enumerate(result.pfms):
        if result.n_sites[f] >= min_sites:
            trimmed = trim_ppm(to_ppm(pfm), background=background)
            bits[f] = float(information_content(trimmed, background).sum()) if len(trimmed) else 0.0
            if len(trimmed) >= 4 and bits[f] >= min_information:
                ppms[f"filter{f}"] = trimmed
    matches = tomtom_matches(ppms, database, top=top) if database is not None else pd.DataFrame(
        columns=["query", "rank", "jaspar_id", "name", "p_value", "q_value", "offset", "strand"])
    matches = matches.rename(columns={"query": "filter"})
    best = matches[matches["rank"] == 1].set_index("filter") if len(matches) else None
    rows = []
    for f in range(len(result.pfms)):
        key = f"filter{f}"
        row = {
            "filter": key,
            "n_sites": int(result.n_sites[f]),
            "influence": float(result.influence[f]),
            "information_content": round(bits[f], 2) if f in bits else np.nan,
            "informative": key in ppms,
            "consensus": consensus(to_ppm(result.pfms[f]), alphabet) if result.n_sites[f] >= min_sites else "",
            "best_match": "", "best_name": "", "p_value": np.nan, "q_value": np.nan,
        }
        if best is not None and key in best.index:
            hit = best.loc[key]
            row.update(best_match=hit["jaspar_id"], best_name=hit["name"], p_value=hit["p_value"], q_value=hit["q_value"])
        for c, name in enumerate(classes or [f"class{i}" for i in range(result.class_change.shape[1])]):
            row[f"change_{name}"] = float(result.class_change[f, c])
        rows.append(row)
    summary = (pd.DataFrame(rows).sort_values(["influence", "q_value"], ascending=[False, True], kind="stable",
                                              na_position="last").reset_index(drop=True))
    return summary, matches


def interpretable_first_layer(architecture: Mapping | None, branch: str = "seq") -> tuple[bool, str]:
    """Whether a network's first layer was built to learn whole motifs, and why (not).

    Filters learn whole, readable motifs when the first layer's activation is exponential
    (Koo and Ploenzke, Nat Mach Intell 2021) or its max pooling is wide (Koo and Eddy,
    PLoS Comput Biol 2019); with a ReLU and a pool of 2 they tend to learn motif parts
    that deeper layers assemble. The ``interpretable`` preset has both.

    Parameters
    ----------
    architecture : mapping or None
        The model's resolved architecture (``spec.yaml``); None for a TorchScript model.
    branch : str
        The sequence branch. Default is ``"seq"``.

    Returns
    -------
    tuple of (bool, str)
        Built for it or not, and a sentence saying what the first layer is.
    """
    layers = ((architecture or {}).get("branches") or {}).get(branch) or []
    first = layers[0] if layers else {}
    if first.get("type") != "conv":
        return False, "the first layer of the seq branch is not a convolution"
    activation = first.get("activation", "relu")
    pool = first.get("pool_size", 2) if first.get("pool", "none") != "none" else 1
    built = activation == "exp" or pool >= 4
    return built, f"its first layer has a {activation} activation and a max pool of {pool}"
