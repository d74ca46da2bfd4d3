"""Scoring a trained network on a dataset split: probabilities, loss and every metric."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lociflow.evaluation.curves import positive_class
from lociflow.io.store import SplitArrays
from lociflow.metrics import classification_metrics
from lociflow.result_warnings import metrics_warnings
from lociflow.training.data import make_loader


@torch.inference_mode()
def split_probabilities(network: nn.Module, split: SplitArrays, branches: list[str],
                        batch_size: int = 512, device: str | torch.device = "cpu") -> tuple[np.ndarray, float]:
    """Class probabilities [N, K] for every locus of ``split`` and the mean cross-entropy.

    The loss is unweighted (class weights are a training device, not part of the score).
    The network is put in eval mode for the pass and back in its former mode after.

    Parameters
    ----------
    network : torch.nn.Module
        The network, already on ``device``.
    split : SplitArrays
        The split's arrays (inputs and labels).
    branches : list of str
        The input branches the network takes, in its order.
    batch_size : int
        Loci per forward pass. Default is 512.
    device : str or torch.device
        Where the inputs are moved to. Default is ``"cpu"``.

    Returns
    -------
    probabilities : numpy.ndarray
        Softmax probabilities, shape [N, K].
    loss : float
        The mean unweighted cross-entropy over the split's loci.
    """
    was_training = network.training
    network.eval()
    probs, losses = [], []
    for inputs, labels in make_loader(split, branches, batch_size, train=False):
        inputs = tuple(x.to(device) for x in inputs)
        logits = network(*inputs).float().cpu()
        losses.append(F.cross_entropy(logits, labels, reduction="sum"))
        probs.append(torch.softmax(logits, dim=1).numpy())
    network.train(was_training)
    n = max(len(split), 1)
    return np.concatenate(probs), float(torch.stack(losses).sum()) / n


def load_best_weights(network: nn.Module, checkpoint: Path, prefix: str = "network.") -> int:
    """Load the network weights of a Lightning checkpoint (no unpickling); return its epoch (from 1).

    Parameters
    ----------
    network : torch.nn.Module
        The network the weights are loaded into (in place).
    checkpoint : Path
        The Lightning ``.ckpt`` file, read with ``weights_only=True``.
    prefix : str
        The prefix of the network's keys in the checkpoint's ``state_dict``, stripped
        before loading. Default is ``"network."``.

    Returns
    -------
    int
        The checkpoint's epoch, counted from 1 (0 when the checkpoint records none).
    """
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    weights = {k[len(prefix):]: v for k, v in state["state_dict"].items() if k.startswith(prefix)}
    network.load_state_dict(weights)
    return int(state.get("epoch", -1)) + 1


def score_split(network: nn.Module, split: SplitArrays, branches: list[str], classes: list[str],
                batch_size: int = 512, device: str | torch.device = "cpu") -> dict[str, Any]:
    """:func:`lociflow.metrics.classification_metrics` of ``split`` plus ``loss``.

    Parameters
    ----------
    network : torch.nn.Module
        The network, already on ``device``.
    split : SplitArrays
        The split's arrays (inputs and labels).
    branches : list of str
        The input branches the network takes, in its order.
    classes : list of str
        The class names, in label order.
    batch_size : int
        Loci per forward pass. Default is 512.
    device : str or torch.device
        Where the inputs are moved to. Default is ``"cpu"``.

    Returns
    -------
    dict
        The metrics, with ``loss`` (mean unweighted cross-entropy, rounded to 6 digits)
        and ``warnings`` (from :func:`lociflow.result_warnings.metrics_warnings`) added.
    """
    probs, loss = split_probabilities(network, split, branches, batch_size, device)
    metrics = classification_metrics(np.asarray(split.labels), probs, classes)
    metrics["loss"] = round(loss, 6)
    metrics["warnings"] = metrics_warnings(np.asarray(split.labels), probs, classes, metrics, split.inputs.get("seq"))
    if len(classes) == 2:  # as evaluate's report: the class its one AUROC and AUPRC are about
        metrics["positive"] = positive_class(list(classes))
    return metrics
