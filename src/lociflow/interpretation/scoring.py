"""Scoring a network on batched inputs: the shared ground of every interpretation method.

Every method takes the same arguments (the network, a dict of input arrays keyed by
branch, the target class, ``batch_size``, ``device``, ``random_state``, ``verbose``).
This module turns them into what the methods compute on: the arrays in the network's
branch order, a target class per sequence, a device, and a context that puts the
network in eval mode and, for recurrent networks on a GPU, switches cuDNN off for the
duration of the call (cuDNN's RNN backward only runs in train mode; switching it off
locally keeps the rest of the program on cuDNN).

The *class score* everywhere is the target class's logit (the network's output before
the softmax): it is linear in the last layer, so attributions of different classes
are comparable and saturation of the softmax does not hide evidence.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from lociflow.errors import LociflowError
from lociflow.model.device import resolve_device
from lociflow.model.network import has_recurrent_layers
from lociflow.model.shapes import check_inputs
from lociflow.progress import bar

__all__ = [
    "ordered_inputs",
    "targets_for",
    "is_recurrent",
    "attribution_mode",
    "class_scores",
    "progress",
]


def ordered_inputs(network: nn.Module, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """The input arrays in the network's branch order, checked for names and shapes.

    Parameters
    ----------
    network : torch.nn.Module
        A lociflow network; its ``branches`` attribute gives the order.
    inputs : mapping of str to numpy.ndarray
        ``[N, L, C]`` arrays keyed by branch (extra branches are ignored).

    Returns
    -------
    list of numpy.ndarray
        One array per branch, in branch order.

    Raises
    ------
    LociflowError
        When the network has no ``branches``, or the arrays do not fit them
        (see :func:`lociflow.model.shapes.check_inputs`).
    """
    branches = list(getattr(network, "branches", []) or [])
    if not branches:
        raise LociflowError("The network has no 'branches' attribute naming its inputs; build it with lociflow.")
    arrays = [np.asarray(a) for a in check_inputs(branches, inputs, "the inputs")]
    return arrays


def targets_for(network: nn.Module, target: int | Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """One target class index per sequence (int64 ``[n]``), checked against the classes.

    Parameters
    ----------
    network : torch.nn.Module
        The network; its ``classes_count``, when it has one, bounds the indices.
    target : int or sequence of int or numpy.ndarray
        One class index for all sequences, or one per sequence.
    n : int
        Number of sequences.

    Returns
    -------
    numpy.ndarray
        int64 ``[n]`` class indices.

    Raises
    ------
    LociflowError
        When ``target`` is not an integer or ``n`` integers, or an index is out of range.
    """
    classes = getattr(network, "classes_count", None)
    values = np.asarray(target)
    if values.ndim == 0:
        values = np.full(n, int(values), dtype=np.int64)
    if values.shape != (n,):
        raise LociflowError(f"The target must be one class index or one per sequence ({n}); got shape {values.shape}.")
    if not np.issubdtype(values.dtype, np.integer):
        raise LociflowError("The target must hold class indices (integers), not class names or scores.")
    values = values.astype(np.int64)
    if n and (values.min() < 0 or (classes is not None and values.max() >= classes)):
        raise LociflowError(
            f"Target class index out of range: got {values.min()}..{values.max()}, the model has {classes} classes."
        )
    return values



def is_recurrent(network: nn.Module) -> bool:
    """Whether the network holds a recurrent layer (GRU, LSTM, RNN), also inside TorchScript.

    Parameters
    ----------
    network : torch.nn.Module
        Any module.

    Returns
    -------
    bool
        As :func:`lociflow.model.network.has_recurrent_layers`.
    """
    return has_recurrent_layers(network)


@contextlib.contextmanager
def attribution_mode(network: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """Eval mode on ``device``; cuDNN off for recurrent networks on a GPU; state restored after.

    Parameters
    ----------
    network : torch.nn.Module
        The network; it is moved to ``device`` (and stays there) and its train/eval mode
        is restored on exit.
    device : torch.device
        A resolved device.

    Yields
    ------
    torch.nn.Module
        ``network`` itself, in eval mode.
    """
    was_training = network.training
    network.to(device).eval()
    cudnn_off = device.type == "cuda" and is_recurrent(network)
    try:
        with _cudnn_off() if cudnn_off else contextlib.nullcontext():
            yield network
    finally:
        network.train(was_training)


def _cudnn_off():
    """cuDNN disabled, every other cuDNN setting (deterministic, benchmark, TF32) kept as it is."""
    cudnn = torch.backends.cudnn
    return cudnn.flags(enabled=False, benchmark=cudnn.benchmark, benchmark_limit=cudnn.benchmark_limit,
                       deterministic=cudnn.deterministic, allow_tf32=cudnn.allow_tf32)


def to_tensors(arrays: Sequence[np.ndarray], rows: slice | np.ndarray, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Rows of every branch as float32 tensors on ``device``.

    Parameters
    ----------
    arrays : sequence of numpy.ndarray
        One array per branch (as from :func:`ordered_inputs`).
    rows : slice or numpy.ndarray
        The rows to take from each array.
    device : torch.device
        Where the tensors go.

    Returns
    -------
    tuple of torch.Tensor
        One float32 tensor per branch, ready for ``network(*tensors)``.
    """
    return tuple(torch.as_tensor(np.asarray(a[rows], dtype=np.float32), device=device) for a in arrays)


def class_scores(
    network: nn.Module,
    inputs: Mapping[str, np.ndarray],
    target: int | np.ndarray | None = None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    verbose: bool = False,
) -> np.ndarray:
    """Logits of every sequence (``[N, K]``), or the target class's logit (``[N]``) when given.

    Why: methods that only need forward passes (global importance analysis, checks of
    completeness) score through the same validated path as the attribution methods.

    Parameters
    ----------
    network : torch.nn.Module
        A lociflow network.
    inputs : mapping of str to numpy.ndarray
        ``[N, L, C]`` arrays keyed by branch.
    target : int or numpy.ndarray or None
        Class index, or one per sequence; None returns every class's logit.
        Default is None.
    batch_size : int
        Sequences per forward pass. Default is 256.
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"auto"``. Default is ``"cpu"``.
    verbose : bool
        Show a progress bar. Default is False.

    Returns
    -------
    numpy.ndarray
        float32 logits ``[N, K]``, or ``[N]`` (the target's logit) when ``target`` is given.
    """
    arrays = ordered_inputs(network, inputs)
    n = arrays[0].shape[0]
    dev = resolve_device(device)
    out = []
    with attribution_mode(network, dev), torch.inference_mode(), progress("Scoring", n, verbose) as pbar:
        for lo in range(0, n, batch_size):
            rows = slice(lo, lo + batch_size)
            out.append(network(*to_tensors(arrays, rows, dev)).float().cpu().numpy())
            pbar.update(min(batch_size, n - lo))
    logits = np.concatenate(out) if out else np.zeros((0, getattr(network, "classes_count", 0)), np.float32)
    if target is None:
        return logits
    t = targets_for(network, target, n)
    return logits[np.arange(n), t]


def progress(description: str, total: int, verbose: bool, unit: str = "seq"):
    """A progress bar (``lociflow.progress.bar``) that stays silent when ``verbose`` is False.

    Parameters
    ----------
    description : str
        The bar's label.
    total : int
        How many things the bar counts to.
    verbose : bool
        Whether to show the bar at all.
    unit : str
        What ``total`` counts (sequences; ``"position"`` for a scan over insertion
        positions), so the rate the bar shows is a real rate of that thing. Default is "seq".

    Returns
    -------
    context manager
        A bar with ``update(n)`` and ``close()``; a silent stand-in with the same methods
        when ``verbose`` is False.
    """
    return bar(description, total=total, unit=unit) if verbose else _Silent()


class _Silent(contextlib.AbstractContextManager):
    """Stands in for a progress bar when ``verbose`` is False."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        return None
