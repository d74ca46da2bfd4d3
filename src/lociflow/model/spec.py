"""Layer specs: what a user writes in ``train.architecture`` and what presets expand to.

An architecture has one section per input branch and one ``common`` section applied after
the branches are joined::

    architecture:
      branches:
        seq:  [{type: conv, filters: 64, kernel: 9, pool: max}, {type: gru, units: 32}]
        fold: [{type: conv, filters: 16, kernel: 9, pool: max}]
      common: [{type: dense, units: 64, dropout: 0.3}]

Layers are parsed one by one so that every error names the section, the layer (counted
from 1) and its type, e.g. ``branch seq, layer 2 (conv): unknown key 'filter' (did you mean
'filters'?)``. Shape rules (a recurrent layer after a dense one, a pooling that leaves no
positions) are checked by :mod:`lociflow.model.plan`, which also knows the window.

Recurrent layers: a ``gru``/``lstm`` layer followed in its section by a layer that needs a
sequence (conv, residual, gru, lstm, attention, pool) returns the whole sequence; otherwise
(the last recurrent layer, followed by nothing or by dense layers) it returns the **mean
over positions**. Set ``output: mean | last | sequence`` to choose explicitly.

A ``dense`` layer given a sequence flattens it first (all positions times all channels).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lociflow.configfile import Section, suggest
from lociflow.errors import ConfigError

Activation = Literal["relu", "leaky_relu", "gelu", "exp", "none"]


class ConvLayer(Section):
    """1-D convolution over positions, then batch norm, activation, pooling and dropout."""

    type: Literal["conv"] = "conv"
    filters: int = Field(default=64, ge=1, description="Number of filters (output channels).")
    kernel: int = Field(default=9, ge=1, description="Kernel width in positions.")
    dilation: int = Field(default=1, ge=1)
    stride: int = Field(default=1, ge=1)
    padding: Literal["same", "valid"] = Field(default="same", description="same keeps ceil(L / stride) positions.")
    activation: Activation = "relu"
    batch_norm: bool = False
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    pool: Literal["max", "avg", "none"] = Field(default="none", description="Local pooling after the activation.")
    pool_size: int = Field(default=2, ge=1, description="Pooling window and step.")


class ResidualLayer(Section):
    """A stack of dilated convolutions, each added back to its input (pre-activation)."""

    type: Literal["residual"] = "residual"
    filters: int = Field(default=64, ge=1)
    kernel: int = Field(default=3, ge=1)
    dilations: list[int] = Field(default_factory=lambda: [1, 2, 4, 8], min_length=1)
    activation: Activation = "relu"
    batch_norm: bool = True
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)


class DenseLayer(Section):
    """Fully connected layer; a sequence input is flattened first."""

    type: Literal["dense"] = "dense"
    units: int = Field(default=64, ge=1)
    activation: Activation = "relu"
    batch_norm: bool = False
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)


class _Recurrent(Section):
    units: int = Field(default=64, ge=1, description="Hidden units per direction.")
    bidirectional: bool = True
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout on the layer's output.")
    output: Literal["mean", "last", "sequence"] | None = Field(
        default=None,
        description="mean over positions, last state (both directions), or the whole sequence; "
        "default: sequence when a sequence layer follows in the section, else mean.",
    )


class GRULayer(_Recurrent):
    """Gated recurrent unit layer over positions."""

    type: Literal["gru"] = "gru"


class LSTMLayer(_Recurrent):
    """Long short-term memory layer over positions."""

    type: Literal["lstm"] = "lstm"


class AttentionLayer(Section):
    """Multi-head self-attention over positions, with a residual connection and layer norm."""

    type: Literal["attention"] = "attention"
    heads: int = Field(default=4, ge=1)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)


class PoolLayer(Section):
    """Global pooling over positions: max, average, both (concatenated), or flatten."""

    type: Literal["pool"] = "pool"
    mode: Literal["max", "avg", "max_avg", "flatten"] = "max"


Layer = Annotated[
    Union[ConvLayer, ResidualLayer, DenseLayer, GRULayer, LSTMLayer, AttentionLayer, PoolLayer],
    Field(discriminator="type"),
]

LAYER_TYPES: dict[str, type[Section]] = {
    "conv": ConvLayer,
    "residual": ResidualLayer,
    "dense": DenseLayer,
    "gru": GRULayer,
    "lstm": LSTMLayer,
    "attention": AttentionLayer,
    "pool": PoolLayer,
}
RECURRENT = ("gru", "lstm")
# layers that need a [length, channels] input
SEQUENCE_LAYERS = ("conv", "residual", "gru", "lstm", "attention", "pool")


class Architecture(BaseModel):
    """A parsed architecture: layers per branch, then the common layers."""

    model_config = ConfigDict(extra="forbid")

    branches: dict[str, list[Layer]] = Field(default_factory=dict)
    common: list[Layer] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Fully explicit plain data (every option written out), as stored in ``spec.yaml``."""
        return self.model_dump(mode="json")


def section_label(section: str) -> str:
    """How error messages name a section: ``branch seq`` or ``common``.

    Parameters
    ----------
    section : str
        A branch name, or ``"common"``.

    Returns
    -------
    str
        ``"common"`` for the common section, else ``"branch <section>"``.
    """
    return "common" if section == "common" else f"branch {section}"


def parse_layer(raw: Any, section: str, index: int) -> Section:
    """Validate one layer dict; errors name the section, the layer (from 1) and its type.

    Parameters
    ----------
    raw : dict or Section
        The layer as written (``{type: conv, filters: 64}``); an already parsed
        layer is dumped and validated again.
    section : str
        The branch name, or ``"common"``, used in error messages.
    index : int
        Position of the layer in its section, counted from 0 (messages count from 1).

    Returns
    -------
    Section
        The validated layer model (:class:`ConvLayer`, :class:`DenseLayer`, ...),
        every option filled with its default.

    Raises
    ------
    ConfigError
        When the layer is not a mapping, has no or an unknown ``type``, or an
        option is unknown or invalid.
    """
    where = f"{section_label(section)}, layer {index + 1}"
    if isinstance(raw, Section):
        raw = raw.model_dump()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a layer must be a mapping such as {{type: conv, filters: 64}}, got {raw!r}.")
    kind = raw.get("type")
    if kind is None:
        raise ConfigError(f"{where}: the layer has no 'type'; types: {', '.join(LAYER_TYPES)}.")
    if not isinstance(kind, str) or kind not in LAYER_TYPES:
        raise ConfigError(
            f"{where}: unknown layer type {kind!r}{suggest(str(kind), list(LAYER_TYPES))}; "
            f"types: {', '.join(LAYER_TYPES)}."
        )
    model = LAYER_TYPES[kind]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                valid = sorted(model.model_fields)
                problems.append(f"unknown key {key!r}{suggest(key, valid)}; valid keys: {', '.join(valid)}")
            else:
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"{key}: {msg} (got {err.get('input')!r})")
        raise ConfigError(f"{where} ({kind}): " + "; ".join(problems) + ".") from None


def _parse_section(raw: Any, section: str) -> list[Section]:
    if raw is None:
        return []
    if isinstance(raw, dict):
        raise ConfigError(
            f"{section_label(section)}: expected a list of layers (each starting with '- type: ...'), "
            "got a single mapping."
        )
    if not isinstance(raw, (list, tuple)):
        raise ConfigError(f"{section_label(section)}: expected a list of layers, got {raw!r}.")
    layers = [parse_layer(item, section, i) for i, item in enumerate(raw)]
    return _settle_recurrent_outputs(layers)


def _settle_recurrent_outputs(layers: list[Section]) -> list[Section]:
    """Fill the default ``output`` of recurrent layers (sequence if a sequence layer follows, else mean)."""
    settled = []
    for i, layer in enumerate(layers):
        if layer.type in RECURRENT and layer.output is None:
            follows = any(later.type in SEQUENCE_LAYERS for later in layers[i + 1:])
            layer = layer.model_copy(update={"output": "sequence" if follows else "mean"})
        settled.append(layer)
    return settled


def parse_architecture(data: dict[str, Any] | Architecture) -> Architecture:
    """Parse an architecture dict into :class:`Architecture`, raising :class:`ConfigError`.

    Every layer option is filled with its default, and recurrent outputs are made explicit,
    so the result written back with :meth:`Architecture.to_dict` is complete.

    Parameters
    ----------
    data : dict or Architecture
        A mapping with ``branches`` (branch name to list of layers) and ``common``
        (list of layers); both are optional. An :class:`Architecture` is re-parsed
        from its :meth:`~Architecture.to_dict`.

    Returns
    -------
    Architecture
        The parsed layers per branch and the common layers.

    Raises
    ------
    ConfigError
        When the mapping has other keys, or a section or layer is malformed.
    """
    if isinstance(data, Architecture):
        data = data.to_dict()
    if not isinstance(data, dict):
        raise ConfigError(
            f"architecture must be a mapping with 'branches' and 'common', got {type(data).__name__}."
        )
    for key in data:
        if key not in ("branches", "common"):
            raise ConfigError(
                f"architecture: unknown key {key!r}{suggest(str(key), ['branches', 'common'])}; "
                "valid keys: branches, common."
            )
    branches = data.get("branches") or {}
    if not isinstance(branches, dict):
        raise ConfigError("architecture.branches must map each branch name (seq, fold, ...) to a list of layers.")
    parsed = {str(name): _parse_section(layers, str(name)) for name, layers in branches.items()}
    common = _parse_section(data.get("common"), "common")
    return Architecture.model_construct(branches=parsed, common=common)
