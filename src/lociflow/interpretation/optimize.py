"""Class optimisation: the sequence a network finds most typical of a class.

Why: it shows what the network has learnt for a class without any data, as a logo and
a sequence (Simonyan et al. 2014; Lanchantin et al. 2017 for genomics). The sequence
branch is relaxed to a position probability matrix, ``softmax(W)`` over the bases, and
``W`` is moved by gradient ascent (Adam) on the class score (the target logit) minus
an L2 penalty on ``W`` that keeps the relaxation from saturating. Several restarts
from seeded random ``W`` (near-discrete random sequences) run together as one batch; the result of each is read out as
its most likely bases and scored as that discrete sequence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from lociflow.errors import LociflowError
from lociflow.interpretation.scoring import attribution_mode, targets_for
from lociflow.model.device import resolve_device

__all__ = ["OptimizeResult", "logo_rows", "optimize_class", "plot_logo"]

# standard deviation of the starting softmax parameters (a start looks like a random sequence)
_START_SCALE = 3.0


class OptimizeResult(NamedTuple):
    """Optimised matrices ``[R, L, C]``, their discrete sequences and scores, best first.

    ``scores[r]`` is the class score (target logit) of ``sequences[r]``.
    """

    pwms: np.ndarray
    sequences: list[str]
    scores: np.ndarray


def optimize_class(
    network: nn.Module,
    channels: Mapping[str, Sequence[str]],
    window: int,
    target: int,
    n_restarts: int = 5,
    steps: int = 300,
    lr: float = 0.1,
    l2: float = 1e-3,
    random_state: int = 0,
    device: str | torch.device = "cpu",
    other_branches: str | Mapping[str, np.ndarray] = "zeros",
    branch: str = "seq",
    verbose: bool = True,
) -> OptimizeResult:
    """Gradient ascent on a relaxed sequence to maximise one class score.

    Parameters
    ----------
    network : torch.nn.Module
        A lociflow network (``forward(*inputs)``, attribute ``branches``).
    channels : dict of str to list of str
        Channel names per branch (``LoadedModel.channels``); the optimised branch's
        names are the letters of the sequences returned.
    window : int
        Positions per input.
    target : int
        Class index to maximise.
    n_restarts : int
        Seeded random starts, optimised together. Default is 5.
    steps : int
        Adam steps. Default is 300.
    lr : float
        Adam learning rate. Default is 0.1.
    l2 : float
        Weight of the L2 penalty on the softmax parameters. Default is 1e-3.
    random_state : int
        Seed of the starts. Default is 0.
    device : str or torch.device
        Default is ``"cpu"``.
    other_branches : "zeros" or dict of str to numpy.ndarray
        Inputs of the other branches held fixed: zeros, or one ``[L, C]`` array per
        branch (e.g. the mean over a dataset). Default is ``"zeros"``.
    branch : str
        The one-hot branch to optimise. Default is ``"seq"``.
    verbose : bool
        Unused (one batch, no progress to show); kept for the shared vocabulary. Default is True.

    Returns
    -------
    OptimizeResult
        ``pwms`` ``[R, L, C]``, ``sequences`` (R strings), ``scores`` ``[R]``, best first.
    """
    branches = list(getattr(network, "branches", []) or [])
    if branch not in branches:
        raise LociflowError(f"Cannot optimise branch '{branch}': the model reads {branches}.")
    missing = [b for b in branches if b not in channels]
    if missing:
        raise LociflowError(f"channels lacks the branch(es) {missing}; give the channel names of every branch.")
    if n_restarts < 1 or steps < 0:
        raise LociflowError(f"Class optimisation needs n_restarts >= 1 and steps >= 0 (got {n_restarts}, {steps}).")
    int(targets_for(network, int(target), 1)[0])
    dev = resolve_device(device)
    letters = list(channels[branch])
    fixed = _fixed_inputs(branches, channels, window, branch, other_branches, n_restarts, dev)
    gen = torch.Generator().manual_seed(int(random_state))
    # near-discrete random starts: from a near-uniform matrix, ReLU filters stay silent and give no gradient
    weights = (_START_SCALE * torch.randn((n_restarts, window, len(letters)), generator=gen)).to(dev).requires_grad_(True)
    k = branches.index(branch)
    t = torch.full((n_restarts,), int(target), device=dev)

    def run(x_seq: torch.Tensor) -> torch.Tensor:
        xs = [x_seq if j == k else fixed[j] for j in range(len(branches))]
        return network(*xs).gather(1, t[:, None])[:, 0]

    with attribution_mode(network, dev):
        optimizer = torch.optim.Adam([weights], lr=lr)
        for _ in range(steps):
            optimizer.zero_grad()
            score = run(torch.softmax(weights, dim=-1))
            loss = (-score + l2 * weights.pow(2).sum(dim=(1, 2))).sum()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            pwms = torch.softmax(weights, dim=-1)
            best = pwms.argmax(-1)
            scores = run(torch.nn.functional.one_hot(best, len(letters)).float())
    order = np.argsort(-scores.cpu().numpy(), kind="stable")
    pwms_np = pwms.cpu().numpy()[order]
    seqs = ["".join(letters[i] for i in row) for row in best.cpu().numpy()[order]]
    return OptimizeResult(pwms_np.astype(np.float32), seqs, scores.cpu().numpy()[order].astype(np.float32))


def _fixed_inputs(branches, channels, window, branch, other_branches, n, dev) -> list[torch.Tensor | None]:
    if isinstance(other_branches, str) and other_branches != "zeros":
        raise LociflowError(f"other_branches must be 'zeros' or a dict of [L, C] arrays, got '{other_branches}'.")
    out: list[torch.Tensor | None] = []
    for b in branches:
        if b == branch:
            out.append(None)
            continue
        shape = (window, len(channels[b]))
        value = np.zeros(shape, np.float32)
        if isinstance(other_branches, Mapping) and b in other_branches:
            value = np.asarray(other_branches[b], np.float32)
            if value.shape != shape:
                raise LociflowError(f"other_branches['{b}'] has shape {value.shape}; it must be {shape}.")
        out.append(torch.as_tensor(value, device=dev).expand(n, *shape))
    return out


def logo_rows(length: int, most: int = 50) -> list[tuple[int, int]]:
    """Split ``length`` positions into rows of at most ``most``, as even as possible.

    Why: a 101-nt window cut every 50 leaves a last row of one letter, which the logo blows up
    to the full width; 34 + 34 + 33 keeps every letter the same size.

    Parameters
    ----------
    length : int
        Positions in the window.
    most : int
        The longest row. Default is 50.

    Returns
    -------
    list of (start, stop)
        Half-open ranges from 0 covering ``0 .. length``; their lengths differ by at most one.
    """
    if length <= 0:
        return []
    n = -(-length // max(1, most))
    bounds = [round(i * length / n) for i in range(n + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def plot_logo(
    pwm: np.ndarray,
    path: str | Path,
    alphabet: str | Sequence[str] = "ACGT",
    kind: str = "information",
    title: str | None = None,
    first_position: int = 0,
) -> Path:
    """Draw a sequence logo of ``pwm`` ``[L, C]`` with logomaker and save it to ``path``.

    Parameters
    ----------
    pwm : numpy.ndarray
        ``[L, C]``, one column per letter of ``alphabet``.
    path : str or Path
        The file to write; the format follows the suffix (its folder is created).
    alphabet : str or sequence of str
        The letters, in column order. Default is ``"ACGT"``.
    kind : {"information", "weights"}
        ``"information"`` reads ``pwm`` as probabilities and draws bits; ``"weights"``
        draws the values as they are (attributions, hypothetical contributions; negative
        letters below the axis). Default is ``"information"``.
    title : str or None
        The plot title. Default is None (none).
    first_position : int
        Numbers the x axis: a slice of a window starting at position 35 (from 1) is drawn
        over 35, 36, ... rather than restarting at 0. Default is 0.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    LociflowError
        When ``pwm`` does not have one column per letter, or for an unknown ``kind``.
    """
    import logomaker
    import pandas as pd
    from matplotlib.figure import Figure

    matrix = np.asarray(pwm, dtype=np.float64)
    letters = list(alphabet)
    if matrix.ndim != 2 or matrix.shape[1] != len(letters):
        raise LociflowError(f"A logo needs a [L, {len(letters)}] matrix for alphabet {''.join(letters)}; got {matrix.shape}.")
    frame = pd.DataFrame(matrix, columns=letters)
    if kind == "information":
        probs = np.clip(matrix, 0, None) + 1e-9
        frame = logomaker.transform_matrix(pd.DataFrame(probs / probs.sum(1, keepdims=True), columns=letters),
                                           from_type="probability", to_type="information")
    elif kind != "weights":
        raise LociflowError(f"Unknown logo kind '{kind}'; use 'information' or 'weights'.")
    frame.index = np.arange(first_position, first_position + len(frame))  # logomaker draws at the index
    path = Path(path)
    fig = Figure(figsize=(max(3.0, 0.28 * len(frame)), 2.0))
    ax = fig.subplots()
    logomaker.Logo(frame, ax=ax, color_scheme="classic")
    ax.set_ylabel("bits" if kind == "information" else "score")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
