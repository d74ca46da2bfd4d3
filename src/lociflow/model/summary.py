"""What a network looks like: a printed table, receptive fields, and a diagram image.

The summary lists every layer with its output shape and parameter count, the way branches
join, the total parameters, and each branch's receptive field: how many input positions
one position after the convolution stack sees (from kernels, dilations, strides and
pooling). Recurrent, attention, global pooling and dense layers see the whole window.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from lociflow.io.atomic import atomic_open
from lociflow.model.plan import LayerPlan, NetworkPlan, Shape, plan_network
from lociflow.model.spec import Section, parse_layer

_MERGE_TEXT = {
    "single": "single branch",
    "channels": "concatenate channels",
    "flatten": "flatten and concatenate",
}


def describe(layer: Section | dict[str, Any]) -> str:
    """One line naming a layer and its non-trivial options, e.g. ``conv 64 x 9, relu, bn, max pool 2``.

    Parameters
    ----------
    layer : Section or dict
        A parsed layer, or a layer dict (parsed with :func:`~lociflow.model.spec.parse_layer`).

    Returns
    -------
    str
        The layer type and size, then its options other than ``none`` (activation,
        ``bn``, pooling, dropout, ...), joined by commas.
    """
    if isinstance(layer, dict):
        layer = parse_layer(layer, "layer", 0)
    kind, parts = layer.type, []
    if kind == "conv":
        head = f"conv {layer.filters} x {layer.kernel}"
        if layer.dilation > 1:
            parts.append(f"dilation {layer.dilation}")
        if layer.stride > 1:
            parts.append(f"stride {layer.stride}")
        if layer.padding == "valid":
            parts.append("valid")
        parts.append(layer.activation)
        if layer.batch_norm:
            parts.append("bn")
        if layer.pool != "none":
            parts.append(f"{layer.pool} pool {layer.pool_size}")
    elif kind == "residual":
        head = f"residual {layer.filters} x {layer.kernel}"
        parts.append("dilations " + "-".join(str(d) for d in layer.dilations))
        parts.append(layer.activation)
        if layer.batch_norm:
            parts.append("bn")
    elif kind in ("gru", "lstm"):
        head = f"{'bi' if layer.bidirectional else ''}{kind} {layer.units}"
        parts.append(f"output {layer.output or 'auto'}")
    elif kind == "attention":
        head = f"attention {layer.heads} heads"
    elif kind == "pool":
        head = {"max": "global max pool", "avg": "global avg pool", "max_avg": "global max + avg pool",
                "flatten": "flatten"}[layer.mode]
    else:
        head = f"dense {layer.units}"
        parts.append(layer.activation)
        if layer.batch_norm:
            parts.append("bn")
    if getattr(layer, "dropout", 0):
        parts.append(f"dropout {layer.dropout:g}")
    return ", ".join([head, *[p for p in parts if p != "none"]])


def receptive_field(layers: list[Section | dict[str, Any]]) -> int:
    """Input positions seen by one output position of a stack of layers.

    Counts ``conv`` (kernel, dilation, stride, pooling) and ``residual`` layers, and stops
    at the first layer that mixes all positions (recurrent, attention, global pooling,
    dense), whose receptive field is the whole window.

    Parameters
    ----------
    layers : list of Section or dict
        The layers in order; dicts are parsed with :func:`~lociflow.model.spec.parse_layer`.

    Returns
    -------
    int
        Positions of the input that one output position of the leading ``conv``/``residual``
        layers depends on (1 when the stack starts with a mixing layer).
    """
    field, jump = 1, 1
    for layer in layers:
        if isinstance(layer, dict):
            layer = parse_layer(layer, "layer", 0)
        if layer.type == "conv":
            field += (layer.kernel - 1) * layer.dilation * jump
            jump *= layer.stride
            if layer.pool != "none":
                field += (layer.pool_size - 1) * jump
                jump *= layer.pool_size
        elif layer.type == "residual":
            field += sum((layer.kernel - 1) * d * jump for d in layer.dilations)
        else:
            break
    return field


def _global_layer(layers: list[Section]) -> Section | None:
    return next((layer for layer in layers if layer.type not in ("conv", "residual")), None)


def _receptive_lines(plan: NetworkPlan) -> list[str]:
    lines = []
    common = plan.architecture.common if plan.merge != "flatten" else []
    for name in plan.branches:
        stack = list(plan.architecture.branches[name]) + list(common)
        field = receptive_field(stack)
        text = f"  {name}: {min(field, plan.window)} of {plan.window} positions"
        if field > plan.window:
            text += f" (the stack reaches {field})"
        mixer = _global_layer(stack)
        if mixer is not None:
            text += f"; then {mixer.type} sees the whole window"
        lines.append(text)
    return lines


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def summarize(network: nn.Module, channels: dict[str, list[str]], window: int) -> str:
    """A printable table of the network: layers, output shapes, parameters, receptive fields.

    Parameters
    ----------
    network : torch.nn.Module
        A network from :func:`lociflow.model.network.build_network`.
    channels : dict of str to list of str
        Branch -> channel names, as the network was built with.
    window : int
        Positions per input.

    Returns
    -------
    str
        Several lines of text, ready for a log or terminal.
    """
    plan = plan_network(network.architecture, channels, window, network.classes_count)
    rows: list[tuple[str, str, str, str]] = []
    for name, encoder in zip(network.branches, network.encoders):
        rows.append((name, f"input ({', '.join(channels[name])})", str(plan.inputs[name]), ""))
        for layer, block in zip(plan.branches[name], encoder):
            rows.append((name, describe(layer.layer), str(layer.output), f"{_count(block):,}"))
    rows.append(("join", _MERGE_TEXT[plan.merge], str(plan.merged), ""))
    for layer, block in zip(plan.common, network.common):
        rows.append(("common", describe(layer.layer), str(layer.output), f"{_count(block):,}"))
    rows.append(("output", f"linear to {plan.n_classes} classes (softmax outside)", str(plan.n_classes),
                 f"{_count(network.head):,}"))
    headers = ("section", "layer", "output", "parameters")
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(4)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*headers), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*row) for row in rows]
    total = _count(network)
    trainable = sum(p.numel() for p in network.parameters() if p.requires_grad)
    lines += ["", f"total parameters: {total:,} ({trainable:,} trainable)", "receptive field:"]
    lines += _receptive_lines(plan)
    return "\n".join(lines)


# --------------------------------------------------------------------------- diagram

_COLOURS = {"input": "#dbe9f6", "conv": "#c7e9c0", "residual": "#a1d99b", "gru": "#fdd0a2", "lstm": "#fdd0a2",
            "attention": "#fcbba1", "pool": "#dadaeb", "dense": "#f2f0b5", "join": "#e0e0e0", "output": "#f4cae4"}


def draw_diagram(architecture: dict[str, Any], channels: dict[str, list[str]], window: int,
                 path: str | os.PathLike, n_classes: int | None = None) -> list[Path]:
    """Draw the network as boxes (one column per branch, then the join, common layers, output).

    Writes a PNG and an SVG beside it (``path`` with either suffix, or none).

    Parameters
    ----------
    architecture : dict
        The architecture dict (explicit or partial).
    channels : dict of str to list of str
        Branch -> channel names.
    window : int
        Positions per input.
    path : str or os.PathLike
        Where to write; the suffix is replaced by ``.png`` and ``.svg``.
    n_classes : int or None
        Number of output classes, shown in the output box. Default is None (not shown).

    Returns
    -------
    list of Path
        The PNG and SVG files written.
    """
    import matplotlib
    from matplotlib.figure import Figure

    plan = plan_network(architecture, channels, window, n_classes or 2)
    names = list(plan.branches)
    depth = max(len(layers) for layers in plan.branches.values()) + 1
    rows = depth + 1 + len(plan.common) + 1
    col_w, row_h = 3.3, 1.0
    width = max(col_w * len(names), col_w * 1.3)
    fig = Figure(figsize=(max(width, 4.0) + 0.4, rows * row_h * 0.75 + 0.4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(-rows * row_h - 0.1, 0.3)
    ax.axis("off")

    def box(x: float, y: float, w: float, text: str, kind: str) -> tuple[float, float, float]:
        from matplotlib.patches import FancyBboxPatch

        ax.add_patch(FancyBboxPatch((x - w / 2, y - 0.36), w, 0.72, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    facecolor=_COLOURS.get(kind, "#ffffff"), edgecolor="#555555", linewidth=0.8))
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5, wrap=False)
        return x, y - 0.38, y + 0.38

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 0.8, "shrinkA": 0, "shrinkB": 0})

    bottoms = []
    for col, name in enumerate(names):
        x = col_w * col + col_w / 2
        _, bottom, _ = box(x, -row_h * 0.5, col_w - 0.3,
                           f"{name} input\n{', '.join(channels[name])}\n{_shape_text(plan.inputs[name])}", "input")
        for row, layer in enumerate(plan.branches[name], start=1):
            _, new_bottom, top = box(x, -row_h * (row + 0.5), col_w - 0.3, _label(layer), layer.layer.type)
            arrow(x, bottom, x, top)
            bottom = new_bottom
        bottoms.append((x, bottom))
    centre = width / 2
    y = -row_h * (depth + 0.5)
    wide = min(width - 0.3, col_w * 1.2)
    _, bottom, top = box(centre, y, wide, f"join: {_MERGE_TEXT[plan.merge]}\n{_shape_text(plan.merged)}", "join")
    for x, b in bottoms:
        arrow(x, b, centre, top)
    for layer in plan.common:
        y -= row_h
        _, new_bottom, top = box(centre, y, wide, _label(layer), layer.layer.type)
        arrow(centre, bottom, centre, top)
        bottom = new_bottom
    y -= row_h
    outputs = f"{n_classes} classes" if n_classes else "one output per class"
    _, _, top = box(centre, y, wide, f"linear + softmax\n{outputs}", "output")
    arrow(centre, bottom, centre, top)

    stem = Path(path)
    stem = stem.with_suffix("") if stem.suffix.lower() in (".png", ".svg") else stem
    written = []
    for fmt in ("png", "svg"):
        target = stem.with_name(stem.name + f".{fmt}")
        # no creation date and fixed SVG element ids: identical runs give identical bytes
        with atomic_open(target, "wb") as handle, matplotlib.rc_context({"svg.hashsalt": "lociflow"}):
            fig.savefig(handle, format=fmt, dpi=150, metadata={"Date": None})
        written.append(target)
    return written


def _label(layer: LayerPlan) -> str:
    text = describe(layer.layer)
    head, _, rest = text.partition(", ")
    lines = [head]
    if rest:  # wrap the options so a box stays narrow
        words, line = rest.split(", "), ""
        for word in words:
            if line and len(line) + len(word) > 36:
                lines.append(line)
                line = word
            else:
                line = f"{line}, {word}" if line else word
        lines.append(line)
    lines.append(f"\u2192 {_shape_text(layer.output)}")
    return "\n".join(lines)


def _shape_text(shape: Shape) -> str:
    return f"{shape.length} \u00d7 {shape.channels}" if shape.is_sequence else f"{shape.channels} features"
