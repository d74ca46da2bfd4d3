"""The model directory: weights in safetensors plus ``spec.yaml``, loaded without unpickling.

Layout::

    MODEL/
      model.safetensors   the weights (tensors only: reading it cannot run code)
      spec.yaml           format_version, lociflow_version, classes, n_classes, branches,
                          channels, window, alphabet, preprocess (how to encode new input),
                          architecture (explicit layers), ensemble (networks averaged)

Loading rebuilds the network from ``spec.yaml`` with :func:`build_network` and copies the
weights in after checking every name and shape. A model trained elsewhere can be given as
TorchScript instead: ``model.pt`` plus a ``spec.yaml`` with ``format: torchscript``
(see ``docs/models.md``); TorchScript carries code, so load only files you trust.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from lociflow.configfile import safe_load_yaml
from lociflow.errors import ConfigError, ModelFileError
from lociflow.io.atomic import atomic_path, write_yaml
from lociflow.layout import SPEC_FILE, TORCHSCRIPT_FILE, WEIGHTS_FILE
from lociflow.model.checks import (
    HASHES,
    check_fits,
    check_weights_hash,
    inside,
    model_size,
    sha256_file,
)
from lociflow.model.device import resolve_device
from lociflow.model.shapes import check_inputs

log = logging.getLogger("lociflow.model.io")

FORMAT_VERSION = 2
"""The newest model format this version reads and writes.

1: one network. 2: adds ``ensemble`` (several networks of one architecture whose logits are
averaged, weights ``members.<i>.*``); single networks are still written as 1, so older
versions read them, and refuse an ensemble with a request to upgrade.
"""
CPU_FORWARD_ROWS = 128
"""Most loci a CPU forward pass of :meth:`LoadedModel.predict_proba` takes: small passes keep
the activations in cache (measured in ``bench/RESULTS.md``, "Prediction batch size")."""
CPU_FORWARD_POSITIONS = 32_768
"""Nucleotides (loci times window) a CPU forward pass aims at: long windows take fewer loci
(``bench/forward_rows.py``)."""


def cpu_forward_rows(window: int) -> int:
    """Loci per CPU forward pass for a window: a power of two near :data:`CPU_FORWARD_POSITIONS`
    nucleotides, from 16 to :data:`CPU_FORWARD_ROWS`.

    Parameters
    ----------
    window : int
        The model's window, in nt.

    Returns
    -------
    int
        128 up to 256 nt, 64 at 300 and 500 nt, 32 at 1,000 nt, 16 from 1,025 nt.
    """
    fit = max(1, CPU_FORWARD_POSITIONS // max(1, int(window)))
    return int(min(CPU_FORWARD_ROWS, max(16, 1 << (fit.bit_length() - 1))))
_REQUIRED = ("classes", "branches", "channels", "window")


@dataclass
class LoadedModel:
    """A model read from its directory, ready to predict.

    ``network(*inputs)`` takes one float tensor ``[B, L, C]`` per branch in ``branches``
    order and returns logits ``[B, K]``; :meth:`predict_proba` does the batching.
    """

    path: Path
    network: nn.Module
    spec: dict[str, Any]
    classes: list[str]
    branches: list[str]
    channels: dict[str, list[str]]
    window: int
    alphabet: str
    preprocess: dict[str, Any]
    """How to encode new input: the dataset's preprocess parameters, with ``window``,
    ``alphabet`` and ``branches`` those of the network (see :func:`load_model`)."""
    architecture: dict[str, Any]
    format: str = "safetensors"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_recurrent(self) -> bool:
        """Whether the network has GRU/LSTM layers (attribution then needs cuDNN off on GPU)."""
        from lociflow.model.network import has_recurrent_layers

        return has_recurrent_layers(self.network)

    @property
    def first_conv(self) -> dict[str, nn.Conv1d]:
        """Branch -> first convolution reading the input (empty for TorchScript models)."""
        return dict(getattr(self.network, "first_conv", {}) or {})

    def predict_proba(self, inputs: dict[str, np.ndarray], batch_size: int = 512) -> np.ndarray:
        """Class probabilities ``[N, K]`` (float32) for arrays ``{branch: [N, L, C]}``.

        Arrays may be memory-mapped and of any numeric dtype; they are converted batch by batch.
        The network is put in eval mode. On the CPU a batch runs through the network in passes
        of :func:`cpu_forward_rows` loci (128 for windows up to 256 nt, fewer for longer ones),
        which keeps the activations in cache (1.2 to 1.8 times faster for the ``cnn`` preset
        than passes of 512, see ``bench/RESULTS.md``); each locus's probabilities do not
        depend on the batching.

        Parameters
        ----------
        inputs : dict of str to numpy.ndarray
            Arrays keyed by branch, each ``[N, window, channels]`` (checked with
            :meth:`check_inputs`).
        batch_size : int
            Loci converted and moved to the device at a time (bounds memory). Default is 512.

        Returns
        -------
        numpy.ndarray
            float32 ``[N, K]``, columns in ``classes`` order.
        """
        arrays = self.check_inputs(inputs)
        n = arrays[0].shape[0]
        out = np.empty((n, len(self.classes)), dtype=np.float32)
        self.network.eval()
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                batch = [torch.from_numpy(np.array(a[start:start + batch_size], dtype=np.float32)).to(self.device)
                         for a in arrays]
                step = min(batch_size, cpu_forward_rows(self.window)) if self.device.type == "cpu" else batch_size
                for lo in range(0, len(batch[0]), step):
                    logits = self.network(*(b[lo:lo + step] for b in batch))
                    out[start + lo:start + lo + len(logits)] = torch.softmax(logits, dim=1).float().cpu().numpy()
        return out

    def check_inputs(self, inputs: dict[str, np.ndarray], source: str = "the input") -> list[np.ndarray]:
        """The arrays of ``inputs`` in branch order, checked to be ``[N, window, channels]`` each.

        Parameters
        ----------
        inputs : dict of str to numpy.ndarray
            Arrays keyed by branch (see :func:`lociflow.model.shapes.check_inputs`).
        source : str
            What the arrays were made from, named in the message. Default is
            ``"the input"``.

        Returns
        -------
        list of numpy.ndarray
            One array per branch, in ``branches`` order.
        """
        return check_inputs(self.branches, inputs, source, self.window, self.channels)


def save_model(folder: str | os.PathLike, network: nn.Module, spec: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` and ``spec.yaml`` into ``folder`` (each atomically).

    Parameters
    ----------
    folder : str or os.PathLike
        The model directory (created if needed).
    network : torch.nn.Module
        A network from :func:`lociflow.model.network.build_network` (or an
        :class:`~lociflow.model.network.EnsembleNetwork`, saved as format version 2).
    spec : dict
        At least ``classes``; ``branches``, ``channels``, ``window`` and ``architecture``
        default to the network's own; also ``alphabet`` and ``preprocess`` (the dataset's
        preprocess params) so that new input can be encoded the same way.

    Returns
    -------
    Path
        ``folder``.
    """
    from safetensors.torch import save_file

    import lociflow

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    full = {
        "format_version": 1,  # 2 for an ensemble (below)
        "format": "safetensors",
        "lociflow_version": lociflow.__version__,
        "classes": list(spec["classes"]),
        "n_classes": int(spec.get("n_classes", len(spec["classes"]))),
        "branches": list(spec.get("branches", getattr(network, "branches", []))),
        "channels": {k: list(v) for k, v in spec.get("channels", getattr(network, "channels", {})).items()},
        "window": int(spec.get("window", getattr(network, "window", 0))),
        "alphabet": spec.get("alphabet", "dna"),
        "preprocess": dict(spec.get("preprocess") or {}),
        "architecture": spec.get("architecture", getattr(network, "architecture", None)),
    }
    full.update({k: v for k, v in spec.items() if k not in full})
    members = len(getattr(network, "members", ())) or 1
    if members > 1:
        full["format_version"] = 2
        full["ensemble"] = members
    if full["n_classes"] != len(full["classes"]):
        raise ValueError(f"n_classes {full['n_classes']} differs from the {len(full['classes'])} classes")
    state = {k: v.detach().to("cpu").contiguous() for k, v in network.state_dict().items()}
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        # one metadata key: safetensors writes a map in random order, and identical runs
        # must give identical bytes (the version is in spec.yaml)
        save_file(state, str(tmp), metadata={"format": "pt"})
    full[HASHES] = {WEIGHTS_FILE: sha256_file(folder / WEIGHTS_FILE)}
    write_yaml(folder / SPEC_FILE, _plain(full), header="lociflow model spec: how to rebuild the network and encode input")
    return folder


def _plain(value: Any) -> Any:
    """Plain YAML-able data (paths and numpy scalars as strings/numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_spec(folder: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``spec.yaml`` of a model directory.

    Parameters
    ----------
    folder : str or os.PathLike
        The model folder (or its ``spec.yaml``, weights or TorchScript file).

    Returns
    -------
    dict
        The spec, ``n_classes`` filled in when missing.

    Raises
    ------
    ModelFileError
        For a missing folder or spec, invalid YAML, a format version newer than this
        lociflow reads, or missing or mistyped keys.
    """
    folder = _model_folder(folder)
    path = folder / SPEC_FILE
    if not path.is_file():
        raise ModelFileError(f"{folder} has no {SPEC_FILE}: give the model folder that `lociflow train` printed.")
    inside(folder, SPEC_FILE, "spec")
    try:
        spec = safe_load_yaml(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, ConfigError, RecursionError) as exc:
        raise ModelFileError(f"{path} is not valid YAML ({exc}); the model folder is damaged.") from None
    except OSError as exc:
        raise ModelFileError(f"{path} cannot be read ({exc.strerror or exc}).") from None
    if not isinstance(spec, dict):
        raise ModelFileError(f"{path} must hold a mapping of model properties; the model folder is damaged.")
    version = spec.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{path} has no integer format_version; it was not written by lociflow.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version}, newer than this lociflow reads ({FORMAT_VERSION}); "
            "upgrade lociflow to load it."
        )
    missing = [k for k in _REQUIRED if k not in spec]
    if missing:
        raise ModelFileError(f"{path} lacks {', '.join(missing)}; the model folder is damaged.")
    _check_spec_types(spec, path)
    if spec.get("n_classes") is None:
        spec["n_classes"] = len(spec["classes"])
    return spec


def _names(value: Any) -> bool:
    """Whether ``value`` is a list of names (strings, or numbers used as names)."""
    return isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value)


def _check_spec_types(spec: dict[str, Any], path: Path) -> None:
    problems = []
    if not _names(spec["classes"]) or len(spec["classes"]) < 2:
        problems.append("classes must be a list of at least two class names")
    branches_ok = isinstance(spec["branches"], list) and spec["branches"] and all(isinstance(b, str) for b in spec["branches"])
    if not branches_ok:
        problems.append("branches must be a non-empty list of branch names")
    channels = spec["channels"]
    if not isinstance(channels, dict) or not all(isinstance(k, str) and _names(v) and v for k, v in channels.items()):
        problems.append("channels must map each branch to its list of channel names")
    elif branches_ok and set(spec["branches"]) != set(channels):
        problems.append(f"branches {spec['branches']} and channels {list(channels)} disagree")
    if not isinstance(spec["window"], int) or isinstance(spec["window"], bool) or spec["window"] < 1:
        problems.append(f"window must be a positive whole number (got {spec['window']!r})")
    n_classes = spec.get("n_classes")
    if n_classes is None and isinstance(spec["classes"], list):
        n_classes = len(spec["classes"])
    if not isinstance(n_classes, int) or isinstance(n_classes, bool):
        problems.append(f"n_classes must be a whole number (got {n_classes!r})")
    elif isinstance(spec["classes"], list) and n_classes != len(spec["classes"]):
        problems.append(f"n_classes {n_classes} differs from the {len(spec['classes'])} classes listed")
    for key, kind, text in (("format", str, "a format name"), ("architecture", dict, "a mapping of layers"),
                            ("preprocess", dict, "a mapping of preprocess options"), ("alphabet", str, "dna or rna"),
                            (HASHES, dict, "a mapping of file name to SHA-256")):
        if spec.get(key) is not None and not isinstance(spec[key], kind):
            problems.append(f"{key} must be {text} (got {spec[key]!r:.60})")
    ensemble = spec.get("ensemble", 1)
    if not isinstance(ensemble, int) or isinstance(ensemble, bool) or ensemble < 1:
        problems.append(f"ensemble must be a positive whole number of networks (got {ensemble!r})")
    if problems:
        raise ModelFileError(f"{path}: " + "; ".join(problems) + ".")



def _model_folder(path: str | os.PathLike) -> Path:
    path = Path(path).expanduser()
    if path.is_file() and path.name in (SPEC_FILE, WEIGHTS_FILE, TORCHSCRIPT_FILE):
        path = path.parent
    if not path.exists():
        raise ModelFileError(f"Model folder {path} does not exist.")
    if not path.is_dir():
        raise ModelFileError(f"{path} is not a model folder: give the folder that holds {SPEC_FILE}.")
    return path


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model directory written by :func:`save_model` (or a TorchScript model folder).

    Never unpickles: weights are read from safetensors and the network is rebuilt from
    ``spec.yaml``. Every weight's name and shape must match the rebuilt network.

    Parameters
    ----------
    path : str or os.PathLike
        The model folder (or its ``spec.yaml``).
    device : str or torch.device
        Where the network lives: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"``
        (a GPU when there is one). Default is ``"cpu"``.

    Returns
    -------
    LoadedModel
        With the network in eval mode.

    Raises
    ------
    ModelFileError
        For a missing, damaged, mismatched or too new model.
    """
    folder = _model_folder(path)
    spec = read_spec(folder)
    device = resolve_device(device)
    fmt = spec.get("format", "safetensors")
    if fmt == "torchscript":
        from lociflow.model.torchscript import load_torchscript

        name = spec.get("file", TORCHSCRIPT_FILE)
        inside(folder, name, "TorchScript file")
        log.warning("%s is a TorchScript model: it carries code that runs when the model is called; load it only "
                    "from a source you trust", folder)
        if (folder / name).is_file():
            check_weights_hash(folder, spec, name)
        network = load_torchscript(folder, spec, device)
    elif fmt == "safetensors":
        network = _load_safetensors(folder, spec, device)
    else:
        raise ModelFileError(f"{folder / SPEC_FILE}: unknown format {fmt!r}; formats: safetensors, torchscript.")
    network.eval()
    window, alphabet, branches = int(spec["window"]), str(spec.get("alphabet", "dna")), list(spec["branches"])
    # The spec's top level says what the network takes; its preprocess section (a copy of the
    # dataset's parameters, kept for older readers) may disagree, e.g. for a model trained
    # elsewhere. The network's own shape wins, so new input is always encoded to fit it.
    preprocess = {**(spec.get("preprocess") or {}), "window": window, "alphabet": alphabet, "branches": branches}
    return LoadedModel(
        path=folder, network=network, spec=spec, classes=[str(c) for c in spec["classes"]],
        branches=branches, channels={k: list(v) for k, v in spec["channels"].items()},
        window=window, alphabet=alphabet, preprocess=preprocess,
        architecture=dict(spec.get("architecture") or {}), format=fmt, device=device,
    )


def _load_safetensors(folder: Path, spec: dict[str, Any], device: torch.device) -> nn.Module:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from lociflow.model.network import EnsembleNetwork, build_network

    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise ModelFileError(f"{folder} has no {WEIGHTS_FILE}; the model folder is incomplete (was training interrupted?).")
    inside(folder, WEIGHTS_FILE, "weights file")
    if not spec.get("architecture"):
        raise ModelFileError(f"{folder / SPEC_FILE} has no architecture; the model cannot be rebuilt.")
    channels = {b: list(spec["channels"][b]) for b in spec["branches"]}
    n_classes = int(spec.get("n_classes", len(spec["classes"])))
    try:
        size = model_size(spec["architecture"], channels, int(spec["window"]), n_classes, spec.get("ensemble", 1))
    except ConfigError as exc:
        raise ModelFileError(f"{folder / SPEC_FILE}: the architecture cannot be rebuilt: {exc}") from None
    check_fits(size, device, str(folder / SPEC_FILE))
    try:
        networks = [build_network(spec["architecture"], channels, int(spec["window"]),
                                  int(spec.get("n_classes", len(spec["classes"]))))
                    for _ in range(spec.get("ensemble", 1))]
        network = networks[0] if len(networks) == 1 else EnsembleNetwork(networks)
    except ConfigError as exc:
        raise ModelFileError(f"{folder / SPEC_FILE}: the architecture cannot be rebuilt: {exc}") from None
    try:
        weights = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(
            f"{path} is corrupted or truncated ({exc}); train the model again or restore the file."
        ) from None
    check_weights_hash(folder, spec, WEIGHTS_FILE)  # after the format check, which names truncation as such
    _check_weights(network, weights, path)
    network.load_state_dict(weights, strict=True)
    return network.to(device)


def _check_weights(network: nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    expected = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in weights.items()}
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    wrong = [f"{k} {found[k]} (spec needs {expected[k]})" for k in expected if k in found and found[k] != expected[k]]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} weight(s), e.g. {', '.join(missing[:3])}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected weight(s), e.g. {', '.join(unexpected[:3])}")
    if wrong:
        problems.append(f"{len(wrong)} of the wrong shape, e.g. {'; '.join(wrong[:3])}")
    if problems:
        raise ModelFileError(
            f"{path} does not match the architecture in {SPEC_FILE}: " + "; ".join(problems)
            + ". The weights and spec.yaml come from different models."
        )


def dataset_spec(dataset, architecture: dict[str, Any]) -> dict[str, Any]:
    """The ``spec`` for :func:`save_model` of a network trained on ``dataset`` (a ``DatasetDir``).

    Parameters
    ----------
    dataset : DatasetDir
        The dataset (its classes, branches, channels, window, alphabet and preprocess
        parameters).
    architecture : dict
        The resolved architecture the network was built from.

    Returns
    -------
    dict
        The spec.
    """
    return {
        "classes": dataset.classes,
        "n_classes": len(dataset.classes),
        "branches": dataset.branches,
        "channels": dataset.channels,
        "window": dataset.window,
        "alphabet": dataset.alphabet,
        "preprocess": dict(dataset.params),
        "architecture": architecture,
    }
