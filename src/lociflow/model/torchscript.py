"""Models trained elsewhere: a TorchScript file behind lociflow's network call convention.

A folder with ``model.pt`` and a ``spec.yaml`` holding ``format: torchscript`` (format in
``docs/models.md``) loads with :func:`lociflow.model.io.load_model` like a lociflow model.
``torch.jit.load`` does not unpickle arbitrary Python objects, but the archive carries code
that runs when the model is called: load TorchScript only from sources you trust.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lociflow.errors import ModelFileError
from lociflow.layout import SPEC_FILE, TORCHSCRIPT_FILE


class TorchScriptNetwork(nn.Module):
    """A TorchScript module behind the lociflow call convention (``branches``, ``classes_count``).

    Inputs are channels-last ``[B, L, C]``; with ``input_layout: channels_first`` in the spec
    they are transposed before the call. A model whose output is probabilities
    (``output: probabilities``) has them turned into log-probabilities, which are logits.

    Parameters
    ----------
    module : torch.nn.Module
        The loaded TorchScript module.
    branches : list of str
        The branch names, in the order the module takes its inputs.
    classes_count : int
        The number of classes.
    channels_first : bool
        Transpose inputs to ``[B, C, L]`` before the call. Default is False.
    probabilities : bool
        The module outputs probabilities (turned into log-probabilities). Default is False.
    """

    def __init__(self, module: nn.Module, branches: list[str], classes_count: int,
                 channels_first: bool = False, probabilities: bool = False):
        super().__init__()
        self.module = module
        self.branches = list(branches)
        self.classes_count = classes_count
        self.channels_first = channels_first
        self.probabilities = probabilities

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        xs = [x.float() for x in inputs]
        if self.channels_first:
            xs = [x.transpose(1, 2) for x in xs]
        out = self.module(*xs)
        if self.probabilities:
            out = torch.log(out.clamp_min(1e-12))
        return out


def load_torchscript(folder: Path, spec: dict[str, Any], device: torch.device) -> nn.Module:
    """Load ``model.pt`` (or ``spec["file"]``) of a TorchScript model folder, wrapped for lociflow.

    Parameters
    ----------
    folder : Path
        The model folder.
    spec : dict
        Its spec (``file``, ``input_layout``, ``output``, ``branches``, ``classes``).
    device : torch.device
        Where the module is loaded.

    Returns
    -------
    torch.nn.Module
        A :class:`TorchScriptNetwork` on ``device``.

    Raises
    ------
    ModelFileError
        When the file is missing or unreadable, or ``input_layout`` or ``output`` is not
        one of the known values.
    """
    path = folder / spec.get("file", TORCHSCRIPT_FILE)
    if not path.is_file():
        raise ModelFileError(f"{folder / SPEC_FILE} says format: torchscript but {path} does not exist.")
    try:
        with warnings.catch_warnings():  # deprecated in favour of torch.export, still the common exchange format
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location=device)
    except Exception as exc:  # torch raises RuntimeError or plain Exception for bad archives
        raise ModelFileError(f"{path} is not a readable TorchScript file ({exc}).") from None
    layout = spec.get("input_layout", "channels_last")
    output = spec.get("output", "logits")
    if layout not in ("channels_last", "channels_first"):
        raise ModelFileError(f"{folder / SPEC_FILE}: input_layout must be channels_last or channels_first, got {layout!r}.")
    if output not in ("logits", "probabilities"):
        raise ModelFileError(f"{folder / SPEC_FILE}: output must be logits or probabilities, got {output!r}.")
    return TorchScriptNetwork(module, list(spec["branches"]), len(spec["classes"]),
                              channels_first=layout == "channels_first",
                              probabilities=output == "probabilities").to(device)
