"""Mutagenesis that recomputes only what a single-base substitution can change (fastISM).

Why: a substitution at position ``p`` changes only a bounded span of each convolution's
output, so full forward passes over the ``3 L`` mutants of a sequence spend most of their
time recomputing positions the edit cannot reach (Nair et al., *Bioinformatics* 2022).

How, for a :class:`~lociflow.model.network.MultiBranchNetwork` in eval mode:

- the mutated branch's encoder splits into a *local* prefix (its leading convolution
  blocks: a convolution of any kernel, dilation, stride and zero padding, batch norm, an
  elementwise activation, max or average pooling, dropout) and the rest;
- the reference activations of every local layer are computed once per sequence;
- for each mutant, each local layer is computed only on a window of fixed width around the
  edit: the window of its input is read from the reference activations (zero outside the
  sequence, as the padding is) with the previous layer's new window spliced in;
- the last local window is spliced into the reference activation of that layer, and the rest
  of the network (later encoder layers, the other branches' reference encodings, the common
  layers and the output) runs as usual on the mutants.

The result equals full forward passes up to floating-point rounding (a test checks it on
every preset). Networks this does not cover (TorchScript models, a branch that does not
start with a convolution block) are scored with full forward passes instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lociflow.model.layers import ConvBlock, Exp

__all__ = ["LocalMutagenesis"]

_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.GELU, nn.ELU, nn.SiLU, nn.Sigmoid, nn.Tanh, Exp, nn.Identity)


def _floor_div(a: int, b: int) -> int:
    return a // b


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


@dataclass
class _Layer:
    """One local convolution block and the geometry of its windows."""

    block: ConvBlock
    left: int          # zero positions before the input's first one
    span: int          # dilation * (kernel - 1): input positions one output reads, minus one
    stride: int
    pool: int
    length: int        # positions of the block's output (after pooling)
    width_in: int = 0  # window width of the previous layer's changed positions
    width: int = 0     # window width of this layer's changed positions
    read: int = 0      # input positions read to compute the window

    def start(self, a: torch.Tensor | int):
        """First output position (after pooling) a change starting at input position ``a`` reaches."""
        lo = a + self.left - self.span  # first conv output (times stride) whose reach covers ``a``
        first_conv = -((-lo) // self.stride)  # ceil
        return first_conv // self.pool

    def widths(self, width_in: int) -> None:
        """Fix the window widths for changes of ``width_in`` positions (the worst case over offsets)."""
        self.width_in = width_in
        period = self.stride * self.pool
        worst = 0
        for a in range(period):
            lo_conv = _ceil_div(a + self.left - self.span, self.stride)
            hi_conv = _floor_div(a + width_in - 1 + self.left, self.stride)
            worst = max(worst, hi_conv // self.pool - lo_conv // self.pool + 1)
        self.width = worst
        self.read = (self.width * self.pool - 1) * self.stride + self.span + 1


def _local_geometry(block: nn.Module, length_in: int) -> _Layer | None:
    """The window geometry of ``block``, or None when it is not a local convolution block."""
    if not isinstance(block, ConvBlock):
        return None
    conv = block.conv
    if not isinstance(conv, nn.Conv1d) or conv.padding_mode != "zeros" or conv.groups != 1:
        return None
    if isinstance(conv.padding, str):
        return None
    if isinstance(block.pad, nn.ConstantPad1d):
        if block.pad.value != 0 or conv.padding[0] != 0:
            return None
        left, right = block.pad.padding
    elif isinstance(block.pad, nn.Identity):
        left = right = conv.padding[0]
    else:
        return None
    if not isinstance(block.norm, (nn.BatchNorm1d, nn.Identity)) or not isinstance(block.activation, _ELEMENTWISE):
        return None
    pool = 1
    if isinstance(block.pool, (nn.MaxPool1d, nn.AvgPool1d)):
        p = block.pool
        size = p.kernel_size if isinstance(p.kernel_size, int) else p.kernel_size[0]
        stride = p.stride if isinstance(p.stride, int) else p.stride[0]
        padding = p.padding if isinstance(p.padding, int) else p.padding[0]
        if size != stride or padding != 0 or p.ceil_mode or (isinstance(p, nn.MaxPool1d) and p.dilation != 1):
            return None
        pool = size
    elif not isinstance(block.pool, nn.Identity):
        return None
    span = conv.dilation[0] * (conv.kernel_size[0] - 1)
    stride = conv.stride[0]
    conv_length = (length_in + left + right - span - 1) // stride + 1
    return _Layer(block, left, span, stride, pool, conv_length // pool)


class LocalMutagenesis:
    """Scores single-base substitutions of one branch, recomputing only changed windows.

    Build with :meth:`for_network`, which returns None for networks it does not cover.
    Then :meth:`prepare` holds the reference activations of a block of sequences, and
    :meth:`scores` gives the logits of mutants of those sequences.
    """

    def __init__(self, network: nn.Module, branch_index: int, layers: list[_Layer], length: int):
        self.network = network
        self.k = branch_index
        self.layers = layers
        self.length = length
        self.encoder = network.encoders[branch_index]
        self.rest = nn.Sequential(*list(self.encoder)[len(layers):])
        # zero margin around each reference activation, so every window read stays inside
        self.margins = [layer.read + layer.width_in + layer.left + layer.span + layer.stride * layer.pool + 1
                        for layer in layers] + [2 * layers[-1].width + 1]
        self._refs: list[torch.Tensor] = []
        self._others: list[torch.Tensor | None] = []

    @classmethod
    def for_network(cls, network: nn.Module, branch: str, length: int) -> LocalMutagenesis | None:
        """The fast scorer for ``branch`` of ``network`` on ``length`` positions, or None.

        None means full forward passes are needed: the network is not a lociflow
        multi-branch network, the branch does not start with a convolution block, or the
        windows would cover the whole sequence anyway.
        """
        from lociflow.model.network import MultiBranchNetwork

        if not isinstance(network, MultiBranchNetwork) or branch not in network.branches:
            return None
        k = network.branches.index(branch)
        layers: list[_Layer] = []
        width, length_in = 1, length
        for block in network.encoders[k]:
            layer = _local_geometry(block, length_in)
            if layer is None or layer.length < 1:
                break
            layer.widths(width)
            layers.append(layer)
            width, length_in = layer.width, layer.length
        # keep the layers whose window is narrower than what a full pass computes
        while layers and layers[-1].width >= layers[-1].length:
            layers.pop()
        if not layers:
            return None
        return cls(network, k, layers, length)

    @torch.no_grad()
    def prepare(self, inputs: list[torch.Tensor]) -> None:
        """Reference activations of every local layer, and the other branches' encodings."""
        h = inputs[self.k].float().transpose(1, 2)
        refs = [h]
        for layer in self.layers:
            h = layer.block(h)
            refs.append(h)
        self._refs = [F.pad(r, (m, m)) for r, m in zip(refs[:-1], self.margins)] + [refs[-1]]
        self._others = [None if j == self.k else enc(x.float().transpose(1, 2))
                        for j, (x, enc) in enumerate(zip(inputs, self.network.encoders))]

    @torch.no_grad()
    def scores(self, seq: torch.Tensor, position: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """Logits ``[M, K]`` of mutants: sequence ``seq[i]`` (row of the prepared block) with
        ``base[i]`` (channel index) at ``position[i]``."""
        channels = self._refs[0].shape[1]
        new = F.one_hot(base, channels).to(self._refs[0].dtype)[:, :, None]  # [M, C, 1]
        start = position
        for layer, ref, margin in zip(self.layers, self._refs, self.margins):
            out_start = layer.start(start)
            read_start = out_start * layer.pool * layer.stride - layer.left
            window = ref.unfold(2, layer.read, 1)[seq, :, read_start + margin]  # [M, C, read]
            offset = read_start[:, None] + torch.arange(layer.read, device=seq.device) - start[:, None]
            inside = (offset >= 0) & (offset < new.shape[2])
            spliced = new.gather(2, offset.clamp(0, new.shape[2] - 1)[:, None, :].expand(-1, new.shape[1], -1))
            window = torch.where(inside[:, None, :], spliced, window)
            block = layer.block
            h = F.conv1d(window, block.conv.weight, block.conv.bias, stride=layer.stride, dilation=block.conv.dilation)
            new = block.dropout(block.pool(block.activation(block.norm(h))))
            positions = out_start[:, None] + torch.arange(layer.width, device=seq.device)
            valid = (positions >= 0) & (positions < layer.length)
            new = new * valid[:, None, :]  # outside the sequence: the next layer's zero padding
            start = out_start
        last, pad = self._refs[-1], self.margins[-1]
        full = F.pad(last, (pad, pad))[seq]
        index = start[:, None] + pad + torch.arange(new.shape[2], device=seq.device)
        full.scatter_(2, index[:, None, :].expand(-1, new.shape[1], -1), new)
        h = self.rest(full[:, :, pad:pad + last.shape[2]])
        net = self.network
        outputs = []
        for j, other in enumerate(self._others):
            part = h if j == self.k else other[seq]
            outputs.append(part.flatten(1) if net.merge == "flatten" else part)
        joined = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)
        return net.head(net.common(joined))
