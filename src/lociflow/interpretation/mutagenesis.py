"""In-silico mutagenesis: the change of the class score for every single-base substitution.

Why: it needs no gradients and no reference, so it is the ground truth the gradient
methods are checked against, at the price of ``3 L`` forward passes per sequence.
Mutants are built on the device in batches of ``batch_size`` from an index of
(sequence, position, base) triples, so no ``[N, 3L, L, C]`` array is ever held. When the
mutated branch starts with convolution blocks, only the window of each layer that a
substitution can change is recomputed (:mod:`lociflow.interpretation.fastism`), which gives
the same scores for a fraction of the arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from lociflow.errors import LociflowError
from lociflow.interpretation.fastism import LocalMutagenesis
from lociflow.interpretation.scoring import (
    attribution_mode,
    ordered_inputs,
    progress,
    targets_for,
)
from lociflow.model.device import resolve_device

__all__ = ["in_silico_mutagenesis"]


def in_silico_mutagenesis(
    network: nn.Module,
    inputs: Mapping[str, np.ndarray],
    target: int | np.ndarray,
    branch: str = "seq",
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    random_state: int = 0,
    verbose: bool = True,
    fast: bool = True,
) -> np.ndarray:
    """Score change (mutant - reference) of every single-base substitution in one branch.

    The class score is the target class's logit. Substituting the base already present
    is skipped and reported as 0; at an N position (all-zero row) every base is a
    substitution. Other branches are kept as they are.

    Parameters
    ----------
    network, inputs, target, device, verbose
        As in :func:`lociflow.interpretation.attribution.saliency`.
    branch : str
        The one-hot branch to mutate. Default is ``"seq"``.
    batch_size : int
        Mutants per forward pass. Default is 256.
    random_state : int
        Unused (no randomness); kept so every method takes the same arguments. Default is 0.
    fast : bool
        Recompute only the positions of the branch's leading convolution blocks that a
        substitution can change (fastISM); scores equal full forward passes up to rounding.
        Networks it does not cover use full passes whatever this says. Default is True.

    Returns
    -------
    numpy.ndarray
        ``[N, L, C]`` float32: change of the class score per position and base.
    """
    arrays = ordered_inputs(network, inputs)
    branches = list(network.branches)
    if branch not in branches:
        raise LociflowError(f"Cannot mutate branch '{branch}': the model reads {branches}.")
    k = branches.index(branch)
    x = arrays[k]
    n, length, channels = x.shape
    targets = targets_for(network, target, n)
    dev = resolve_device(device)
    present = np.asarray(x, np.float32)
    if not (np.isin(present, (0.0, 1.0)).all() and (present.sum(-1) <= 1).all()):
        raise LociflowError(f"In-silico mutagenesis needs a one-hot branch; '{branch}' holds other values.")
    result = np.zeros((n, length, channels), np.float32)
    eye = torch.eye(channels, device=dev)
    local = LocalMutagenesis.for_network(network, branch, length) if fast else None
    with attribution_mode(network, dev), torch.inference_mode(), progress("Mutagenesis", n, verbose) as pbar:
        reference = _scores(network, arrays, np.arange(n), targets, batch_size, dev)
        # blocks of whole sequences spanning many full batches of mutants
        per_block = max(1, (batch_size * 32) // (length * max(1, channels - 1)))
        for i0 in range(0, n, per_block):
            i1 = min(n, i0 + per_block)
            _mutate_block(network, arrays, k, targets, reference, i0, i1, eye, batch_size, dev, result, local)
            pbar.update(i1 - i0)
    return result


def _scores(network, arrays, rows, targets, batch_size, dev) -> np.ndarray:
    out = np.zeros(len(rows), np.float32)
    for lo in range(0, len(rows), batch_size):
        idx = rows[lo:lo + batch_size]
        xs = tuple(torch.as_tensor(np.asarray(a[idx], np.float32), device=dev) for a in arrays)
        t = torch.as_tensor(targets[idx], device=dev)
        out[lo:lo + batch_size] = network(*xs).gather(1, t[:, None])[:, 0].float().cpu().numpy()
    return out


def _mutate_block(network, arrays, k, targets, reference, i0, i1, eye, batch_size, dev, result, local) -> None:
    """Score all substitutions of sequences ``i0:i1`` (mutants built on the device)."""
    block = [torch.as_tensor(np.asarray(a[i0:i1], np.float32), device=dev) for a in arrays]
    if local is not None:
        local.prepare(block)
    seq = block[k]
    _, length, channels = seq.shape
    base = seq.argmax(-1)
    is_n = seq.sum(-1) == 0
    # every (sequence, position, base) that differs from the base present
    s_idx, p_idx, b_idx = torch.meshgrid(
        torch.arange(i1 - i0, device=dev), torch.arange(length, device=dev), torch.arange(channels, device=dev),
        indexing="ij",
    )
    keep = (b_idx != base[:, :, None]) | is_n[:, :, None]
    s_idx, p_idx, b_idx = s_idx[keep], p_idx[keep], b_idx[keep]
    t_all = torch.as_tensor(targets[i0:i1], device=dev)
    ref_all = torch.as_tensor(reference[i0:i1], device=dev)
    changes = torch.zeros((i1 - i0, length, channels), device=dev)
    for lo in range(0, len(s_idx), batch_size):
        s, p, b = s_idx[lo:lo + batch_size], p_idx[lo:lo + batch_size], b_idx[lo:lo + batch_size]
        if local is not None:
            logits = local.scores(s, p, b)
        else:
            mutant = seq[s].clone()
            mutant[torch.arange(len(s), device=dev), p] = eye[b]
            logits = network(*(mutant if j == k else block[j][s] for j in range(len(block))))
        score = logits.gather(1, t_all[s][:, None])[:, 0].float()
        changes[s, p, b] = score - ref_all[s]
    result[i0:i1] = changes.cpu().numpy()
