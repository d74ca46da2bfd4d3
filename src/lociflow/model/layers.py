"""The network's blocks as PyTorch modules, one per layer type of the spec.

Blocks work on channels-first sequences ``[B, C, L]`` (what ``nn.Conv1d`` wants) or on flat
``[B, F]`` vectors; recurrent and attention blocks transpose to ``[B, L, C]`` inside. Each
activation is its own module instance and global max pooling is an ``nn.MaxPool1d`` over
the whole length, because captum's DeepLift assigns its rules per module.
"""

from __future__ import annotations

import torch
from torch import nn

from lociflow.model.plan import LayerPlan


class Exp(nn.Module):
    """Exponential activation (sharpens first-layer filters into motif detectors)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


def make_activation(name: str) -> nn.Module:
    """A new activation module for ``name`` (relu, leaky_relu, gelu, exp, none).

    Parameters
    ----------
    name : str
        One of ``relu``, ``leaky_relu``, ``gelu``, ``exp`` or ``none`` (identity).

    Returns
    -------
    torch.nn.Module
        A fresh instance, so that each layer has its own (captum's DeepLift needs that).
    """
    makers = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "exp": Exp, "none": nn.Identity}
    return makers[name]()


def _dropout(p: float) -> nn.Module:
    return nn.Dropout(p) if p > 0 else nn.Identity()


def same_padded_conv(in_channels: int, out_channels: int, kernel: int, dilation: int = 1,
                     stride: int = 1, padding: str = "same") -> nn.Sequential:
    """A Conv1d, preceded by explicit zero padding when 'same' needs an uneven split.

    Parameters
    ----------
    in_channels, out_channels : int
        Input and output channels of the convolution.
    kernel : int
        Kernel width in positions.
    dilation : int
        Spacing between kernel taps. Default is 1.
    stride : int
        Step between output positions. Default is 1.
    padding : {"same", "valid"}
        ``"same"`` pads ``dilation * (kernel - 1)`` zeros split over both ends;
        ``"valid"`` pads nothing. Default is ``"same"``.

    Returns
    -------
    torch.nn.Sequential
        The convolution alone (padding, if any, built in), or a ``ConstantPad1d``
        followed by the unpadded convolution.
    """
    total = dilation * (kernel - 1) if padding == "same" else 0
    left, right = total // 2, total - total // 2
    conv = nn.Conv1d(in_channels, out_channels, kernel, stride=stride, dilation=dilation,
                     padding=left if left == right else 0)
    if left == right:
        return nn.Sequential(conv)
    return nn.Sequential(nn.ConstantPad1d((left, right), 0.0), conv)


class ConvBlock(nn.Module):
    """Convolution -> batch norm -> activation -> pooling -> dropout on ``[B, C, L]``."""

    def __init__(self, in_channels: int, spec):
        super().__init__()
        padded = same_padded_conv(in_channels, spec.filters, spec.kernel, spec.dilation, spec.stride, spec.padding)
        self.pad = padded[0] if len(padded) == 2 else nn.Identity()
        self.conv = padded[-1]
        self.norm = nn.BatchNorm1d(spec.filters) if spec.batch_norm else nn.Identity()
        self.activation = make_activation(spec.activation)
        pools = {"max": nn.MaxPool1d, "avg": nn.AvgPool1d}
        self.pool = pools[spec.pool](spec.pool_size) if spec.pool in pools else nn.Identity()
        self.dropout = _dropout(spec.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.pool(self.activation(self.norm(self.conv(self.pad(x))))))


class ResidualUnit(nn.Module):
    """norm -> activation -> dilated conv -> dropout, added back to the input."""

    def __init__(self, channels: int, kernel: int, dilation: int, activation: str, batch_norm: bool, dropout: float):
        super().__init__()
        self.norm = nn.BatchNorm1d(channels) if batch_norm else nn.Identity()
        self.activation = make_activation(activation)
        self.conv = same_padded_conv(channels, channels, kernel, dilation)
        self.dropout = _dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.conv(self.activation(self.norm(x))))


class ResidualBlock(nn.Module):
    """A 1x1 projection (when channels change), dilated residual units, then norm + activation."""

    def __init__(self, in_channels: int, spec):
        super().__init__()
        self.project = nn.Conv1d(in_channels, spec.filters, 1) if in_channels != spec.filters else nn.Identity()
        self.units = nn.Sequential(*[
            ResidualUnit(spec.filters, spec.kernel, d, spec.activation, spec.batch_norm, spec.dropout)
            for d in spec.dilations
        ])
        self.norm = nn.BatchNorm1d(spec.filters) if spec.batch_norm else nn.Identity()
        self.activation = make_activation(spec.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.norm(self.units(self.project(x))))


class RecurrentBlock(nn.Module):
    """A GRU or LSTM over positions returning the sequence, its mean, or the last state."""

    def __init__(self, in_channels: int, spec):
        super().__init__()
        kind = nn.GRU if spec.type == "gru" else nn.LSTM
        self.rnn = kind(in_channels, spec.units, batch_first=True, bidirectional=spec.bidirectional)
        self.output = spec.output
        self.units = spec.units
        self.bidirectional = spec.bidirectional
        self.dropout = _dropout(spec.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x.transpose(1, 2))  # [B, L, D * H]
        if self.output == "sequence":
            out = out.transpose(1, 2)
        elif self.output == "mean":
            out = out.mean(dim=1)
        elif self.bidirectional:  # last: forward direction at the end, backward one at the start
            out = torch.cat([out[:, -1, : self.units], out[:, 0, self.units:]], dim=1)
        else:
            out = out[:, -1]
        return self.dropout(out)


class AttentionBlock(nn.Module):
    """Multi-head self-attention over positions with a residual connection and layer norm."""

    def __init__(self, channels: int, spec):
        super().__init__()
        self.attention = nn.MultiheadAttention(channels, spec.heads, dropout=spec.dropout, batch_first=True)
        self.dropout = _dropout(spec.dropout)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.transpose(1, 2)
        attended, _ = self.attention(y, y, y, need_weights=False)
        return self.norm(y + self.dropout(attended)).transpose(1, 2)


class GlobalPool(nn.Module):
    """Global max, average, both concatenated, or flatten: ``[B, C, L] -> [B, F]``."""

    def __init__(self, mode: str, length: int):
        super().__init__()
        self.mode = mode
        self.max = nn.MaxPool1d(length) if mode in ("max", "max_avg") else None
        self.avg = nn.AvgPool1d(length) if mode in ("avg", "max_avg") else None
        self.flatten = nn.Flatten()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "flatten":
            return self.flatten(x)
        parts = [pool(x) for pool in (self.max, self.avg) if pool is not None]
        return self.flatten(parts[0] if len(parts) == 1 else torch.cat(parts, dim=1))


class DenseBlock(nn.Module):
    """Flatten (for a sequence) -> linear -> batch norm -> activation -> dropout."""

    def __init__(self, in_features: int, spec, flatten: bool):
        super().__init__()
        self.flatten = nn.Flatten() if flatten else nn.Identity()
        self.linear = nn.Linear(in_features, spec.units)
        self.norm = nn.BatchNorm1d(spec.units) if spec.batch_norm else nn.Identity()
        self.activation = make_activation(spec.activation)
        self.dropout = _dropout(spec.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.activation(self.norm(self.linear(self.flatten(x)))))


def make_block(planned: LayerPlan) -> nn.Module:
    """The module for one planned layer.

    Parameters
    ----------
    planned : LayerPlan
        The layer spec with its input shape (from :func:`~lociflow.model.plan.plan_network`).

    Returns
    -------
    torch.nn.Module
        The block of the layer's type, sized for its input.
    """
    spec, shape = planned.layer, planned.input
    if spec.type == "conv":
        return ConvBlock(shape.channels, spec)
    if spec.type == "residual":
        return ResidualBlock(shape.channels, spec)
    if spec.type in ("gru", "lstm"):
        return RecurrentBlock(shape.channels, spec)
    if spec.type == "attention":
        return AttentionBlock(shape.channels, spec)
    if spec.type == "pool":
        return GlobalPool(spec.mode, shape.length)
    if spec.type == "dense":
        return DenseBlock(shape.features, spec, flatten=shape.is_sequence)
    raise ValueError(f"no block for layer type {spec.type!r}")
