"""The one check that arrays fit a network's inputs: one ``[N, L, C]`` array per branch.

:meth:`lociflow.model.io.LoadedModel.predict_proba`, the model-input layer
(:mod:`lociflow.model.inputs`) and the interpretation methods (which may be given any
network with a ``branches`` attribute) all call :func:`check_inputs`, so the rule and its
messages are written once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from lociflow.errors import DatasetError

__all__ = ["check_inputs"]


def _listed(values) -> str:
    return "[" + ", ".join(map(str, values)) + "]"


def check_inputs(branches: Sequence[str], inputs: Mapping[str, np.ndarray], source: str = "the input",
                 window: int | None = None, channels: Mapping[str, Sequence[str]] | None = None) -> list[np.ndarray]:
    """Check arrays against a network's branches; return them in branch order.

    Parameters
    ----------
    branches : sequence of str
        The network's input branches, in call order.
    inputs : mapping of str to array
        Arrays keyed by branch (extra branches are ignored).
    source : str
        What the arrays were made from, named in the message. Default is "the input".
    window : int, optional
        Positions per array, when known (a loaded model knows it). Default is None.
    channels : mapping of str to channel names, optional
        Channels per branch, when known; the window and channels are checked only
        when both are given. Default is None.

    Returns
    -------
    list of array
        ``inputs[b]`` for each branch, not copied.

    Raises
    ------
    DatasetError
        When a branch is missing, an array is not ``[N, L, C]`` or not of the expected
        window and channels, or the branches hold different numbers of loci.
    """
    branches = list(branches)
    missing = [b for b in branches if b not in inputs]
    if missing:
        raise DatasetError(
            f"{source}: the inputs lack the branch(es) {missing}: the model needs input branch {missing[0]!r} "
            f"(branches: {', '.join(branches)}); "
            f"got {', '.join(inputs) or 'none'}."
        )
    arrays = [inputs[b] for b in branches]
    for branch, array in zip(branches, arrays):
        shape = tuple(np.shape(array))
        if len(shape) != 3:
            raise DatasetError(f"{source}: input {branch!r} must be shaped [N, L, C] (loci, positions, channels); "
                               f"got {shape}.")
        if window is not None and channels is not None:
            expected = (int(window), len(channels[branch]))
            if shape[1:] != expected:
                raise DatasetError(
                    f"{source}: branch {branch!r} input has shape {shape}; the model expects "
                    f"[N, {expected[0]}, {expected[1]}] (window {window}, channels {_listed(channels[branch])})."
                )
    sizes = [int(np.shape(a)[0]) for a in arrays]
    if len(set(sizes)) > 1:
        listed = ", ".join(f"{b} {n}" for b, n in zip(branches, sizes))
        raise DatasetError(f"{source}: the branch inputs differ in length ({listed}); give one row per locus in each.")
    return arrays
