"""The multi-branch network built from an architecture spec.

Call convention (shared by training, evaluation and attribution)::

    logits = network(*inputs)

with one float tensor per branch, in ``network.branches`` order, each ``[B, L, C]``
(channels-last, exactly as the dataset stores them); the network transposes inside.
The output is logits ``[B, K]``; softmax is applied outside (cross-entropy in training).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lociflow.model.layers import make_block
from lociflow.model.plan import NetworkPlan, plan_network
from lociflow.model.spec import Architecture


def has_recurrent_layers(module: nn.Module) -> bool:
    """Whether ``module`` holds a GRU, LSTM or RNN layer, also inside TorchScript.

    Attribution needs cuDNN off for these on a GPU (its recurrent backward pass refuses
    eval mode).

    Parameters
    ----------
    module : torch.nn.Module
        Any module; all its submodules are searched.

    Returns
    -------
    bool
        True when one submodule is an ``nn.RNNBase`` or a scripted GRU, LSTM or RNN.
    """
    return any(isinstance(m, nn.RNNBase) or getattr(m, "original_name", "") in ("GRU", "LSTM", "RNN")
               for m in module.modules())

class MultiBranchNetwork(nn.Module):
    """One encoder per input branch, a join, common layers and a linear output layer.

    Attributes
    ----------
    branches : list of str
        Branch names in forward-argument order.
    classes_count : int
        Number of output logits.
    architecture : dict
        The fully explicit architecture dict it was built from.
    channels : dict of str to list of str
        Channel names per branch, as it was built for.
    window : int
        Positions per input, as it was built for.
    """

    def __init__(self, plan: NetworkPlan):
        super().__init__()
        self.branches: list[str] = list(plan.branches)
        self.classes_count: int = plan.n_classes
        self.architecture: dict[str, Any] = plan.architecture.to_dict()
        self.channels: dict[str, list[str]] = {k: list(v) for k, v in plan.channels.items()}
        self.window: int = plan.window
        self.merge: str = plan.merge
        # ModuleList, not ModuleDict: branch (track) names need not be valid attribute names
        self.encoders = nn.ModuleList(
            nn.Sequential(*[make_block(p) for p in plan.branches[name]]) for name in self.branches
        )
        self.common = nn.Sequential(*[make_block(p) for p in plan.common])
        head_in = plan.head_input
        self.head = nn.Sequential(nn.Flatten() if head_in.is_sequence else nn.Identity(),
                                  nn.Linear(head_in.features, plan.n_classes))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if len(inputs) != len(self.branches):
            raise TypeError(
                f"the network takes {len(self.branches)} inputs ({', '.join(self.branches)}), got {len(inputs)}"
            )
        return self.decode([self.encode(j, x) for j, x in enumerate(inputs)])

    def encode(self, branch: int, x: torch.Tensor) -> torch.Tensor:
        """Branch number ``branch``'s encoder on its input ``[B, L, C]``.

        Parameters
        ----------
        branch : int
            Index of the branch in :attr:`branches`.
        x : torch.Tensor
            The branch's input ``[B, L, C]``; a non-float tensor is cast to float.

        Returns
        -------
        torch.Tensor
            The encoder's output, channels first (``[B, C', L']``, or ``[B, F]`` once flat).
        """
        if not torch.is_floating_point(x):
            x = x.float()
        return self.encoders[branch](x.transpose(1, 2))

    def decode(self, encoded: list[torch.Tensor]) -> torch.Tensor:
        """Logits from every branch's encoding, in branch order: the join, common layers and head.

        Parameters
        ----------
        encoded : list of torch.Tensor
            One :meth:`encode` output per branch, in branch order.

        Returns
        -------
        torch.Tensor
            Logits ``[B, classes_count]``.
        """
        outputs = [h.flatten(1) if self.merge == "flatten" else h for h in encoded]
        joined = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)
        return self.head(self.common(joined))

    @property
    def is_recurrent(self) -> bool:
        """Whether any layer is a GRU or LSTM (attribution then needs cuDNN off on GPU)."""
        return has_recurrent_layers(self)

    @property
    def first_conv(self) -> dict[str, nn.Conv1d]:
        """Branch -> the Conv1d of its first layer, when that layer is a ``conv`` reading the input.

        Only a convolution applied directly to the input has filters that read as motifs;
        branches starting with another layer type are left out.
        """
        found = {}
        for name, encoder in zip(self.branches, self.encoders):
            if len(encoder) and hasattr(encoder[0], "conv") and isinstance(encoder[0].conv, nn.Conv1d):
                found[name] = encoder[0].conv
        return found


def build_network(architecture: dict[str, Any] | Architecture, channels: dict[str, list[str]],
                  window: int, n_classes: int) -> MultiBranchNetwork:
    """Build the network for ``architecture`` on inputs of ``window`` positions.

    The spec is validated against the dataset first (:func:`lociflow.model.plan.plan_network`),
    so a spec that cannot work raises :class:`lociflow.errors.ConfigError` naming the layer
    before any weight exists. Weights use PyTorch's default initialisation, drawn from the
    global generator: seed it (``torch.manual_seed``) for identical weights.

    Parameters
    ----------
    architecture : dict or Architecture
        Fully explicit or partial architecture dict (``branches`` and ``common``).
    channels : dict of str to list of str
        Branch name -> channel names, in the dataset's branch order (``DatasetDir.channels``);
        this order is the forward-argument order.
    window : int
        Positions per input.
    n_classes : int
        Number of classes (output logits).

    Returns
    -------
    MultiBranchNetwork
        In training mode; ``network(*inputs)`` gives logits ``[B, n_classes]``.
    """
    return MultiBranchNetwork(plan_network(architecture, channels, window, n_classes))


class EnsembleNetwork(nn.Module):
    """Several networks of one architecture, trained apart (``train.ensemble``); the output
    is the mean of their logits.

    It takes and returns what a :class:`MultiBranchNetwork` does, so evaluation, prediction
    and attribution use it unchanged; since the mean is linear, a gradient attribution of the
    ensemble is the mean of its members' attributions. Weights are stored as
    ``members.<i>.<name>``.
    """

    def __init__(self, members: list[MultiBranchNetwork]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        first = members[0]
        for other in members[1:]:
            if other.architecture != first.architecture or other.branches != first.branches:
                raise ValueError("ensemble members must share one architecture and branch order")
        self.members = nn.ModuleList(members)
        self.branches: list[str] = list(first.branches)
        self.classes_count: int = first.classes_count
        self.architecture: dict[str, Any] = first.architecture
        self.channels: dict[str, list[str]] = first.channels
        self.window: int = first.window
        self.merge: str = first.merge

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(*inputs) for member in self.members]).mean(0)

    @property
    def is_recurrent(self) -> bool:
        return self.members[0].is_recurrent

    @property
    def first_conv(self) -> dict[str, nn.Conv1d]:
        """The first member's first convolutions: filter motifs are read from one network
        (their influence is measured on the ensemble's output)."""
        return self.members[0].first_conv
