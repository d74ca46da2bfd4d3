"""Scoring a trained network on a dataset split: probabilities, loss and every metric."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lociflow.curves import positive_class
from lociflow.io.store import SplitArrays
from lociflow.metrics import classification_metrics
from lociflow.training.data import make_loader


@torch.inference_mode()
def split_probabilities(network: nn.Module, split: SplitArrays, branches: list[str],
                        batch_size: int = 512, device: str | torch.device = "cpu") -> tuple[np.ndarray, float]:
    """Class probabilities [N, K] for every locus of ``split`` and the mean cross-entropy.

    The loss is unweighted (class weights are a training device, not part of the score).
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
    """Load the network weights of a Lightning checkpoint (no unpickling); return its epoch (from 1)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    weights = {k[len(prefix):]: v for k, v in state["state_dict"].items() if k.startswith(prefix)}
    network.load_state_dict(weights)
    return int(state.get("epoch", -1)) + 1


def score_split(network: nn.Module, split: SplitArrays, branches: list[str], classes: list[str],
                batch_size: int = 512, device: str | torch.device = "cpu") -> dict[str, Any]:
    """:func:`lociflow.metrics.classification_metrics` of ``split`` plus ``loss``."""
    probs, loss = split_probabilities(network, split, branches, batch_size, device)
    metrics = classification_metrics(np.asarray(split.labels), probs, classes)
    metrics["loss"] = round(loss, 6)
    if len(classes) == 2:  # as evaluate's report: the class its one AUROC and AUPRC are about
        metrics["positive"] = positive_class(list(classes))
    return metrics
