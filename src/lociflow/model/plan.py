"""Shape inference and validation of an architecture against a dataset's branches and window.

:func:`plan_network` walks every section once with symbolic shapes, so that a spec that
cannot work (a recurrent layer after a dense one, a pooling that leaves no positions, an
attention whose heads do not divide the channels, a branch the dataset lacks) fails
before any weight is made, with a message naming the layer and the problem. The network
builder, the summary and the diagram all read the resulting :class:`NetworkPlan`.

Shapes: a sequence is ``length x channels``; after ``dense``, a global ``pool`` or a
recurrent layer with ``output: mean | last`` the tensor is a flat vector of features.
Branches join by channel concatenation when all are still sequences of one length,
otherwise each is flattened and the vectors are concatenated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lociflow.configfile import suggest
from lociflow.errors import ConfigError
from lociflow.model.spec import Architecture, Section, parse_architecture, section_label

_KIND = {
    "conv": "a convolution",
    "residual": "a residual block",
    "gru": "a recurrent layer",
    "lstm": "a recurrent layer",
    "attention": "an attention layer",
    "pool": "a global pooling layer",
}


@dataclass(frozen=True)
class Shape:
    """Symbolic shape of one sample: ``length`` positions x ``channels``, or flat (length None)."""

    length: int | None
    channels: int

    @property
    def is_sequence(self) -> bool:
        return self.length is not None

    @property
    def features(self) -> int:
        """Number of values once flattened."""
        return self.channels * (self.length or 1)

    def __str__(self) -> str:
        return f"{self.length} x {self.channels}" if self.is_sequence else f"{self.channels}"


@dataclass
class LayerPlan:
    """One layer with its input and output shapes."""

    section: str
    index: int
    layer: Section
    input: Shape
    output: Shape


@dataclass
class NetworkPlan:
    """Every layer of a network with shapes, the way branches join, and the output size."""

    architecture: Architecture
    inputs: dict[str, Shape]
    branches: dict[str, list[LayerPlan]]
    merge: str  # "single", "channels" or "flatten"
    merged: Shape
    common: list[LayerPlan]
    n_classes: int
    window: int
    channels: dict[str, list[str]] = field(default_factory=dict)

    def branch_output(self, branch: str) -> Shape:
        """The shape a branch's encoder gives to the join.

        Parameters
        ----------
        branch : str
            A branch name of :attr:`branches`.

        Returns
        -------
        Shape
            The output of the branch's last layer, or its input shape when the
            branch has no layers.
        """
        layers = self.branches[branch]
        return layers[-1].output if layers else self.inputs[branch]

    @property
    def head_input(self) -> Shape:
        return self.common[-1].output if self.common else self.merged


def plan_network(architecture: dict[str, Any] | Architecture, channels: dict[str, list[str]],
                 window: int, n_classes: int = 2) -> NetworkPlan:
    """Check ``architecture`` against the dataset's branches, channels and window.

    Parameters
    ----------
    architecture : dict or Architecture
        The architecture dict (or parsed :class:`Architecture`).
    channels : dict of str to list of str
        Branch name -> channel names, in the dataset's branch order.
    window : int
        Positions per input.
    n_classes : int
        Number of classes (at least 2). Default is 2.

    Returns
    -------
    NetworkPlan
        Layers with input and output shapes.

    Raises
    ------
    ConfigError
        When the architecture cannot work on this data.
    """
    arch = parse_architecture(architecture)
    if n_classes < 2:
        raise ConfigError(f"a classifier needs at least 2 classes, got {n_classes}.")
    if window < 1:
        raise ConfigError(f"window must be at least 1 position, got {window}.")
    _check_branch_names(arch, channels)
    inputs = {name: Shape(window, len(chans)) for name, chans in channels.items()}
    branches = {name: _plan_section(name, arch.branches[name], inputs[name], window) for name in channels}
    outputs = [layers[-1].output if layers else inputs[name] for name, layers in branches.items()]
    if len(outputs) == 1:
        merge, merged = "single", outputs[0]
    elif all(s.is_sequence for s in outputs) and len({s.length for s in outputs}) == 1:
        merge, merged = "channels", Shape(outputs[0].length, sum(s.channels for s in outputs))
    else:
        merge, merged = "flatten", Shape(None, sum(s.features for s in outputs))
    common = _plan_section("common", arch.common, merged, window, _flat_join_cause(branches, inputs))
    return NetworkPlan(arch, inputs, branches, merge, merged, common, n_classes, window, dict(channels))


def _check_branch_names(arch: Architecture, channels: dict[str, list[str]]) -> None:
    present = list(channels)
    for name in arch.branches:
        if name not in channels:
            raise ConfigError(
                f"the architecture has a section for branch {name!r}, which the dataset does not have"
                f"{suggest(name, present)}; dataset branches: {', '.join(present)}."
            )
    for name in present:
        if name not in arch.branches:
            raise ConfigError(
                f"the dataset has branch {name!r} but the architecture has no section for it; add "
                f"'{name}: [...]' under architecture.branches (an empty list passes it on unchanged)."
            )


def _flat_join_cause(branches: dict[str, list[LayerPlan]], inputs: dict[str, Shape]) -> str:
    """Why the joined branches are a flat vector, for errors about sequence layers in common."""
    for name, layers in branches.items():
        flat = next((p for p in layers if not p.output.is_sequence), None)
        if flat is not None:
            hint = "; set output: sequence on it" if flat.layer.type in ("gru", "lstm") else ""
            return f"branch {name}, layer {flat.index + 1} ({flat.layer.type}) ends the sequence{hint}"
    lengths = ", ".join(f"{n} {(ls[-1].output if ls else inputs[n]).length}" for n, ls in branches.items())
    return f"the branches end with different lengths ({lengths}), so each was flattened before joining"


def _plan_section(section: str, layers: list[Section], shape: Shape, window: int,
                  join_cause: str = "") -> list[LayerPlan]:
    planned: list[LayerPlan] = []
    trail = [str(window)] if section != "common" else [str(shape.length)]
    collapsed_by: LayerPlan | None = None
    for index, layer in enumerate(layers):
        where = f"{section_label(section)}, layer {index + 1} ({layer.type})"
        if layer.type in _KIND and not shape.is_sequence:
            raise ConfigError(f"{where}: {_collapsed_message(layer, collapsed_by, join_cause)}")
        out = _output_shape(layer, shape, where, trail)
        planned.append(LayerPlan(section, index, layer, shape, out))
        if shape.is_sequence and not out.is_sequence:
            collapsed_by = planned[-1]
        shape = out
    return planned


def _collapsed_message(layer: Section, collapsed_by: LayerPlan | None, join_cause: str) -> str:
    kind = _KIND[layer.type]
    if collapsed_by is None:
        return f"{kind} needs a sequence, but the joined branches are already a flat vector ({join_cause})."
    cause = collapsed_by.layer
    if cause.type in ("gru", "lstm"):
        what, fix = f"a {cause.type} layer with output: {cause.output}", "; or set output: sequence on it"
    else:
        what, fix = "a dense or global pool layer", ""
    return (f"{kind} cannot follow {what} (the sequence is already collapsed by layer "
            f"{collapsed_by.index + 1} ({cause.type})); move it before that layer{fix}.")


def _output_shape(layer: Section, shape: Shape, where: str, trail: list[str]) -> Shape:
    kind = layer.type
    if kind == "conv":
        return _conv_shape(layer, shape, where, trail)
    if kind == "residual":
        return Shape(shape.length, layer.filters)
    if kind in ("gru", "lstm"):
        width = layer.units * (2 if layer.bidirectional else 1)
        return Shape(shape.length, width) if layer.output == "sequence" else Shape(None, width)
    if kind == "attention":
        if shape.channels % layer.heads:
            raise ConfigError(
                f"{where}: {layer.heads} heads do not divide the {shape.channels} channels at this point; "
                "choose heads that divide the channel count (e.g. 1, 2 or 4 with 64 channels)."
            )
        return shape
    if kind == "pool":
        if layer.mode == "flatten":
            return Shape(None, shape.features)
        return Shape(None, shape.channels * (2 if layer.mode == "max_avg" else 1))
    if kind == "dense":
        return Shape(None, layer.units)
    raise ConfigError(f"{where}: unknown layer type {kind!r}.")  # parse_layer prevents this


def _conv_shape(layer: Section, shape: Shape, where: str, trail: list[str]) -> Shape:
    length = shape.length
    span = layer.dilation * (layer.kernel - 1) + 1
    if layer.padding == "same":
        out = -(-length // layer.stride)
    else:
        out = (length - span) // layer.stride + 1
        if out < 1:
            raise ConfigError(
                f"{where}: a kernel spanning {span} positions does not fit the {length} positions left "
                f"(window {' -> '.join(trail)}); use padding: same, a smaller kernel or less pooling before it."
            )
    if out != length:
        trail.append(str(out))
    if layer.pool != "none":
        pooled = out // layer.pool_size
        if pooled < 1:
            trail.append(str(pooled))
            raise ConfigError(
                f"{where}: pooling shrinks the branch to zero length (window {' -> '.join(trail)}); "
                f"use a smaller pool_size than {layer.pool_size}, fewer pooling layers, or a larger window."
            )
        trail.append(str(pooled))
        out = pooled
    return Shape(out, layer.filters)
