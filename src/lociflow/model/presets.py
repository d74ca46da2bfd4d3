"""Ready architectures, expanded into explicit layer lists for the branches a dataset has.

Presets (the sequence branch ``seq`` gets the full version; other branches, such as
``fold``, ``cons`` or tracks, a lighter one with the same pooling so that lengths agree
and branches join by channel concatenation):

- ``cnn``: three convolution blocks (batch norm, max pool, dropout) per branch, then a
  dense layer; the multi-branch CNN of ENNGene, sized for 2 CPU cores.
- ``rnn``: the branches' channels joined as they are, then a bidirectional GRU (mean over
  positions) and a dense layer.
- ``cnn_rnn``: two convolution blocks per branch, then a bidirectional GRU and a dense layer.
- ``deepbind``: one convolution of 16 filters (kernel 24, shorter for short windows), global
  max and average pooling, dense 32 (Alipanahi et al. 2015).
- ``danq``: convolution (kernel 26) -> max pool 13 -> bidirectional LSTM -> dense
  (Quang and Xie 2016); filters, units, pooling and the dense layer are scaled down below
  windows of 500 so that it trains on a CPU.
- ``residual``: a convolution stem, a stack of dilated residual convolutions whose reach grows
  with the window, then global max and average pooling and a dense layer.
- ``interpretable``: built so that first-layer filters learn whole motifs: a first
  convolution of 64 filters (kernel 19) with an exponential activation (Koo and Ploenzke
  2021) and wide max pooling (Koo and Eddy 2019), then one ReLU convolution and a dense
  layer.

Sizes scale with the window so every preset is valid down to a window of a few positions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lociflow.configfile import suggest
from lociflow.errors import ConfigError
from lociflow.model.spec import Architecture, parse_architecture

DEFAULT_PRESET = "cnn"
"""The preset used when neither ``preset`` nor ``architecture`` is given."""

_DEFAULT_WINDOW = 150


def _conv(filters: int, kernel: int, pool: bool = True, pool_size: int = 2, dropout: float = 0.2,
          batch_norm: bool = True, activation: str = "relu") -> dict[str, Any]:
    return {"type": "conv", "filters": filters, "kernel": kernel, "batch_norm": batch_norm,
            "activation": activation, "pool": "max" if pool else "none", "pool_size": pool_size,
            "dropout": dropout}


def _fitting_pools(window: int, wanted: int, size: int = 2, min_length: int = 4) -> int:
    """How many pools of ``size`` fit while at least ``min_length`` positions remain."""
    count, length = 0, window
    while count < wanted and length // size >= min_length:
        length //= size
        count += 1
    return count


def _kernel(window: int, wanted: int) -> int:
    """``wanted``, shortened for short windows (at most a third of the window, at least 3)."""
    return max(1, min(wanted, max(3, window // 3), window))


def _cnn(branches: list[str], window: int) -> dict[str, Any]:
    pools = _fitting_pools(window, 3)
    kernels = [_kernel(window, k) for k in (9, 7, 5)]

    def tower(filters: int, first: str) -> list[dict[str, Any]]:
        return [_conv(filters, k, pool=i < pools, activation=first if i == 0 else "relu")
                for i, k in enumerate(kernels)]

    # an exponential first layer on the sequence (Koo and Ploenzke 2021) makes its filters whole
    # motifs at no measured cost in accuracy (bench/RESULTS.md, "Filters and motifs")
    return {"branches": {b: tower(64, "exp") if b == "seq" else tower(16, "relu") for b in branches},
            "common": [{"type": "dense", "units": 64, "dropout": 0.3}]}


def _rnn(branches: list[str], window: int) -> dict[str, Any]:
    return {"branches": {b: [] for b in branches},
            "common": [{"type": "gru", "units": 64, "bidirectional": True, "dropout": 0.2, "output": "mean"},
                       {"type": "dense", "units": 64, "dropout": 0.3}]}


def _cnn_rnn(branches: list[str], window: int) -> dict[str, Any]:
    pools = _fitting_pools(window, 2)
    kernels = [_kernel(window, k) for k in (9, 7)]

    def tower(filters: int) -> list[dict[str, Any]]:
        return [_conv(filters, k, pool=i < pools) for i, k in enumerate(kernels)]

    return {"branches": {b: tower(64 if b == "seq" else 16) for b in branches},
            "common": [{"type": "gru", "units": 64, "bidirectional": True, "dropout": 0.2, "output": "mean"},
                       {"type": "dense", "units": 64, "dropout": 0.3}]}


def _deepbind(branches: list[str], window: int) -> dict[str, Any]:
    kernel = _kernel(window, 24)

    def tower(filters: int) -> list[dict[str, Any]]:
        return [_conv(filters, kernel, pool=False, dropout=0.0, batch_norm=False),
                {"type": "pool", "mode": "max_avg"}]

    return {"branches": {b: tower(16 if b == "seq" else 8) for b in branches},
            "common": [{"type": "dense", "units": 32, "dropout": 0.5}]}


def _danq(branches: list[str], window: int) -> dict[str, Any]:
    full = window >= 500
    kernel = _kernel(window, 26)
    pool = 13 if full else max(2, min(13, window // 16))
    filters, units, dense = (320, 320, 925) if full else (128, 64, 128)

    def tower(width: int) -> list[dict[str, Any]]:
        pooled = window // pool >= 1
        return [_conv(width, kernel, pool=pooled, pool_size=pool, batch_norm=False)]

    return {"branches": {b: tower(filters if b == "seq" else 32) for b in branches},
            "common": [{"type": "lstm", "units": units, "bidirectional": True, "dropout": 0.5,
                        "output": "sequence"},
                       {"type": "dense", "units": dense, "dropout": 0.0}]}


def _residual(branches: list[str], window: int) -> dict[str, Any]:
    pools = _fitting_pools(window, 1)
    length = window // 2 if pools else window
    dilations, reach = [], 1
    while len(dilations) < 6 and 2 * reach < length:  # grow the dilations until they span half the branch
        dilations.append(2 ** len(dilations))
        reach += 2 * dilations[-1]

    def tower(filters: int) -> list[dict[str, Any]]:
        return [_conv(filters, _kernel(window, 9), pool=pools > 0, dropout=0.1),
                {"type": "residual", "filters": filters, "kernel": 3, "dilations": dilations, "dropout": 0.1},
                {"type": "pool", "mode": "max_avg"}]

    return {"branches": {b: tower(64 if b == "seq" else 16) for b in branches},
            "common": [{"type": "dense", "units": 64, "dropout": 0.3}]}


def _interpretable(branches: list[str], window: int) -> dict[str, Any]:
    # a wide first pool (10 positions at 150 nt) keeps the first layer from splitting motifs
    first_pool = max(2, min(10, window // 8))
    second_pools = _fitting_pools(max(1, window // first_pool), 1)

    def tower(filters: int, kernel: int) -> list[dict[str, Any]]:
        return [_conv(filters, _kernel(window, kernel), pool=window // first_pool >= 1, pool_size=first_pool,
                      dropout=0.1, activation="exp"),
                _conv(2 * filters, _kernel(max(1, window // first_pool), 5), pool=second_pools > 0, dropout=0.2)]

    return {"branches": {b: tower(64, 19) if b == "seq" else tower(16, 9) for b in branches},
            "common": [{"type": "dense", "units": 64, "dropout": 0.3}]}


PRESETS: dict[str, Callable[[list[str], int], dict[str, Any]]] = {
    "cnn": _cnn,
    "rnn": _rnn,
    "cnn_rnn": _cnn_rnn,
    "deepbind": _deepbind,
    "danq": _danq,
    "residual": _residual,
    "interpretable": _interpretable,
}
"""Preset name -> function ``(branches, window) -> architecture dict`` (in :data:`~lociflow.layout.PRESET_NAMES` order)."""

PRESET_DESCRIPTIONS: dict[str, str] = {
    "cnn": "three convolution blocks per branch (batch norm, max pool, dropout; the sequence's first one exponential), then dense 64",
    "rnn": "the branches' channels joined as they are, a bidirectional GRU (mean over positions), dense 64",
    "cnn_rnn": "two convolution blocks per branch, then a bidirectional GRU and dense 64",
    "deepbind": "one convolution of 16 filters (kernel 24), global max + average pooling, dense 32",
    "danq": "convolution (kernel 26), max pooling, bidirectional LSTM, dense (scaled down below window 500)",
    "residual": "convolution stem, dilated residual convolutions, global max + average pooling, dense 64",
    "interpretable": "first convolution with an exponential activation and wide max pooling (filters learn "
                     "whole motifs), a ReLU convolution, dense 64",
}
"""One line per preset, for help texts and the GUI."""


def resolve_architecture(preset: str | None, architecture: dict[str, Any] | None, branches: list[str],
                         window: int | None = None) -> dict[str, Any]:
    """Expand a preset and/or a composed architecture into explicit layer lists.

    With only ``architecture``, it must name every branch. With only ``preset`` (or neither:
    :data:`DEFAULT_PRESET`), the preset is expanded for ``branches``. With both, the
    architecture's sections replace the preset's (``common`` and any branch it names), so a
    user can change one part of a preset.

    Parameters
    ----------
    preset : str or None
        A name from :data:`PRESETS`, or None.
    architecture : dict or None
        ``{"branches": {name: [layers]}, "common": [layers]}``, possibly partial, or None.
    branches : list of str
        The dataset's branches, in order.
    window : int or None
        Positions per input; presets shorten kernels and pooling for short windows.
        Default is None (150 positions).

    Returns
    -------
    dict
        ``{"branches": {...}, "common": [...]}`` with every layer option written out.

    Raises
    ------
    ConfigError
        For an unknown preset, a bad layer, or a branch that the dataset lacks or the
        architecture misses.
    """
    window = int(window or _DEFAULT_WINDOW)
    if isinstance(architecture, Architecture):
        architecture = architecture.to_dict()
    if preset is None and architecture is None:
        preset = DEFAULT_PRESET
    if architecture is not None:
        parsed = parse_architecture(architecture)  # layer errors before branch errors
        _check_branches(list(parsed.branches), branches, filled=preset is not None)
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}{suggest(preset, list(PRESETS))}; presets: {', '.join(PRESETS)}.")
    resolved: dict[str, Any] = PRESETS[preset](list(branches), window) if preset else {"branches": {}, "common": []}
    if architecture is not None:
        resolved["branches"].update(architecture.get("branches") or {})
        if "common" in architecture:
            resolved["common"] = architecture["common"] or []
    ordered = {"branches": {b: resolved["branches"][b] for b in branches}, "common": resolved["common"]}
    return parse_architecture(ordered).to_dict()


def _check_branches(named: list[str], present: list[str], filled: bool) -> None:
    for name in named:
        if name not in present:
            raise ConfigError(
                f"the architecture has a section for branch {name!r}, which the dataset does not have"
                f"{suggest(name, present)}; dataset branches: {', '.join(present)}."
            )
    if not filled:
        for name in present:
            if name not in named:
                raise ConfigError(
                    f"the dataset has branch {name!r} but the architecture has no section for it; add "
                    f"'{name}: [...]' under architecture.branches (an empty list passes it on unchanged), "
                    "or also give a preset to fill the missing sections."
                )
