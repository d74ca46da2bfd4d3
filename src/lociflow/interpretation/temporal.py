"""Temporal output scores: the class probability as the model reads more of the sequence.

Why: for recurrent and hybrid models it shows *where* along the sequence the evidence
for a class is gathered: the forward curve is the probability of the target class
when only positions ``0..j`` are visible, the backward curve when only positions
``j..L-1`` are. The unread part of every branch is masked with zeros (the encoding of
an N), so the same reading works for any lociflow network, bidirectional or not.

All ``2 N L`` masked copies are built on the device in batches from an index of
(sequence, position, direction), so no ``[N, L, L, C]`` array is ever held.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from lociflow.errors import LociflowError
from lociflow.interpretation.scoring import (
    attribution_mode,
    ordered_inputs,
    progress,
    targets_for,
)
from lociflow.model.device import resolve_device

__all__ = ["TemporalResult", "temporal_scores", "plot_temporal"]


class TemporalResult(NamedTuple):
    """Class probabilities per visible prefix/suffix, and where the decision settles.

    ``forward[i, j]``: probability of the target with positions ``0..j`` visible;
    ``backward[i, j]``: with positions ``j..L-1`` visible. ``flip_forward[i]`` is the
    first position from which the top class stays the target while reading on
    (-1 when the full sequence is not called the target); ``flip_backward[i]`` the
    same reading from the end (the largest such ``j``).
    """

    forward: np.ndarray
    backward: np.ndarray
    flip_forward: np.ndarray
    flip_backward: np.ndarray
    target: np.ndarray


def temporal_scores(
    network: nn.Module,
    inputs: Mapping[str, np.ndarray],
    target: int | np.ndarray,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    random_state: int = 0,
    verbose: bool = True,
) -> TemporalResult:
    """Score growing prefixes (forward) and growing suffixes (backward) of every sequence.

    Parameters
    ----------
    network, inputs, target, device, verbose
        As in :func:`lociflow.interpretation.attribution.saliency`.
    batch_size : int
        Masked copies per forward pass. Default is 256.
    random_state : int
        Unused (no randomness); kept so every method takes the same arguments. Default is 0.

    Returns
    -------
    TemporalResult
        ``forward`` and ``backward`` ``[N, L]`` float32 probabilities, ``flip_forward``
        and ``flip_backward`` ``[N]`` int64, ``target`` ``[N]``.
    """
    arrays = ordered_inputs(network, inputs)
    lengths = {a.shape[1] for a in arrays}
    if len(lengths) != 1:
        raise LociflowError(f"Temporal scores need every branch to span the same positions; got lengths {sorted(lengths)}.")
    n, length = arrays[0].shape[:2]
    targets = targets_for(network, target, n)
    dev = resolve_device(device)
    probs = np.zeros((2, n, length), np.float32)
    on_target = np.zeros((2, n, length), bool)
    per_block = max(1, (batch_size * 16) // (2 * length))
    positions = torch.arange(length, device=dev)
    with attribution_mode(network, dev), torch.inference_mode(), progress("Temporal scores", n, verbose) as pbar:
        for i0 in range(0, n, per_block):
            i1 = min(n, i0 + per_block)
            block = [torch.as_tensor(np.asarray(a[i0:i1], np.float32), device=dev) for a in arrays]
            t_block = torch.as_tensor(targets[i0:i1], device=dev)
            # rows: direction (0 forward, 1 backward), sequence, position
            d_idx, s_idx, p_idx = (g.reshape(-1) for g in torch.meshgrid(
                torch.arange(2, device=dev), torch.arange(i1 - i0, device=dev), positions, indexing="ij"))
            for lo in range(0, len(s_idx), batch_size):
                d, s, p = d_idx[lo:lo + batch_size], s_idx[lo:lo + batch_size], p_idx[lo:lo + batch_size]
                visible = torch.where(d[:, None] == 0, positions[None] <= p[:, None], positions[None] >= p[:, None])
                xs = tuple(x[s] * visible[:, :, None] for x in block)
                prob = torch.softmax(network(*xs).float(), dim=1)
                t = t_block[s]
                rows = (d.cpu().numpy(), (s + i0).cpu().numpy(), p.cpu().numpy())
                probs[rows] = prob.gather(1, t[:, None])[:, 0].cpu().numpy()
                on_target[rows] = (prob.argmax(1) == t).cpu().numpy()
            pbar.update(i1 - i0)
    return TemporalResult(probs[0], probs[1], _flip_forward(on_target[0]), _flip_backward(on_target[1]), targets)


def _flip_forward(ok: np.ndarray) -> np.ndarray:
    """First j with the target on top at every j' >= j; -1 if not at the end."""
    stays = np.flip(np.cumprod(np.flip(ok, axis=1), axis=1), axis=1).astype(bool)
    return np.where(stays[:, -1], stays.argmax(axis=1), -1).astype(np.int64)


def _flip_backward(ok: np.ndarray) -> np.ndarray:
    """Largest j with the target on top at every j' <= j; -1 if not at position 0."""
    stays = np.cumprod(ok, axis=1).astype(bool)
    last = ok.shape[1] - 1 - np.flip(stays, axis=1).argmax(axis=1)
    return np.where(stays[:, 0], last, -1).astype(np.int64)


def plot_temporal(result: TemporalResult, i: int, path: str | Path, title: str | None = None) -> Path:
    """Plot the forward and backward curves of sequence ``i``, flips marked, to ``path``.

    The format follows the suffix of ``path`` (``.png``, ``.svg``, ...).

    Parameters
    ----------
    result : TemporalResult
        The curves of :func:`temporal_scores`.
    i : int
        Row of the sequence in ``result``.
    path : str or Path
        The image file; its folder is made if needed.
    title : str or None
        The plot title. Default is None (no title).

    Returns
    -------
    Path
        ``path``, written.
    """
    from matplotlib.figure import Figure

    path = Path(path)
    fig = Figure(figsize=(8, 2.6))
    ax = fig.subplots()
    x = np.arange(result.forward.shape[1])
    ax.plot(x, result.forward[i], color="#c0392b", label="forward (prefix 0..j read)")
    ax.plot(x, result.backward[i], color="#2471a3", label="backward (suffix j..end read)")
    for flip, color in ((result.flip_forward[i], "#c0392b"), (result.flip_backward[i], "#2471a3")):
        if flip >= 0:
            ax.axvline(int(flip), color=color, linestyle="--", linewidth=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("position")
    ax.set_ylabel(f"P(class {int(result.target[i])})")
    ax.legend(loc="best", fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
