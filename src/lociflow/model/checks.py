"""What is checked about a model folder before it is used: a model folder is data, never code.

A model folder may come from anyone. Before a network is built, every file the spec names
must resolve inside the folder (links too), the weights must have the SHA-256 that
``spec.yaml`` recorded at training time, and the parameters and activations the spec
implies must fit in the free memory; the count comes from the spec alone, on PyTorch's
``meta`` device, so a damaged ``filters: 1000000000`` is refused without allocating 384 GB.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any, NamedTuple

import torch

from lociflow.errors import ModelFileError
from lociflow.layout import SPEC_FILE

log = logging.getLogger("lociflow.model.io")

HASHES = "weights_sha256"
"""The spec key mapping each weights file (name inside the folder) to its SHA-256."""
_FLOAT_BYTES = 4
_HASH_BLOCK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as 64 hexadecimal digits.

    Parameters
    ----------
    path : str or os.PathLike
        The file, read in blocks of 1 MiB.

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def inside(folder: Path, name: Any, what: str = "file") -> Path:
    """The path of ``name`` inside the model ``folder``, refusing anything that leaves it.

    A model folder is data that may come from anyone: a name in ``spec.yaml`` such as
    ``../../home/me/.ssh/id_rsa``, an absolute path, or a symbolic link pointing out of the
    folder would make lociflow read (or, for TorchScript, run) a file the folder does not
    hold. The check resolves every link before comparing.

    Parameters
    ----------
    folder : Path
        The model folder.
    name : object
        The name ``spec.yaml`` gives (anything but a non-empty string is refused).
    what : str
        What the file is, named in the message. Default is ``"file"``.

    Returns
    -------
    Path
        The resolved path inside ``folder``.

    Raises
    ------
    ModelFileError
        ``name`` is not a plain relative name, or resolves outside ``folder``.
    """
    if not isinstance(name, str) or not name or "\0" in name:
        raise ModelFileError(f"{folder / SPEC_FILE}: the {what} must be the name of a file in the model folder "
                             f"(got {name!r}).")
    root = folder.resolve()
    target = (folder / name).resolve()
    if target != root and root not in target.parents:
        raise ModelFileError(
            f"{folder / SPEC_FILE}: the {what} {name!r} resolves to {target}, outside the model folder {root}. A model "
            "folder may only name its own files; copy the file into the folder (not as a link).")
    return target


def check_weights_hash(folder: Path, spec: dict[str, Any], name: str) -> None:
    """Verify the SHA-256 that ``spec.yaml`` records for weights file ``name``.

    Older models record none: they load, with a note in the log.

    Parameters
    ----------
    folder : Path
        The model folder.
    spec : dict
        The parsed ``spec.yaml`` (its ``weights_sha256`` mapping, when present).
    name : str
        The weights file's name inside the folder.

    Raises
    ------
    ModelFileError
        The file's bytes differ from those written at training time.
    """
    hashes = spec.get(HASHES)
    if hashes is None or (isinstance(hashes, dict) and name not in hashes):
        log.info("%s records no SHA-256 of %s (written by an older lociflow, or elsewhere): its integrity is not "
                 "checked", folder / SPEC_FILE, name)
        return
    expected = hashes.get(name) if isinstance(hashes, dict) else None
    if not isinstance(expected, str):
        raise ModelFileError(f"{folder / SPEC_FILE}: {HASHES} must map {name} to its SHA-256 (got {hashes!r}); the model "
                             "folder is damaged.")
    found = sha256_file(folder / name)
    if found != expected.lower():
        raise ModelFileError(
            f"{folder / name}: the weights were changed or damaged after training (SHA-256 {found[:16]}..., "
            f"spec.yaml records {expected[:16]}...). Restore the file from a backup or train the model again.")


class ModelSize(NamedTuple):
    """What a network needs in memory: ``parameters`` (all networks of an ensemble) and
    ``activations`` (values computed for one locus, inputs included), each a count of floats."""

    parameters: int
    activations: int

    def bytes(self, batch_size: int = 1) -> int:
        """Bytes for the weights plus ``batch_size`` loci of activations (float32).

        Parameters
        ----------
        batch_size : int
            Loci whose activations are held at once. Default is 1.

        Returns
        -------
        int
            Bytes.
        """
        return (self.parameters + self.activations * batch_size) * _FLOAT_BYTES


def model_size(architecture: dict[str, Any], channels: dict[str, list[str]], window: int, n_classes: int,
               members: int = 1) -> ModelSize:
    """Count a network's parameters and per-locus activations from its spec, allocating nothing.

    The layer shapes come from the symbolic plan, the parameter count from building the
    network on PyTorch's ``meta`` device (shapes without storage, and no draw from the
    random generator).

    Parameters
    ----------
    architecture : dict
        The resolved architecture (``spec.yaml``).
    channels : dict of str to list of str
        Channel names per branch.
    window : int
        Positions per input.
    n_classes : int
        Output classes.
    members : int
        Networks of an ensemble (counts are multiplied). Default is 1.

    Returns
    -------
    ModelSize
        Parameters and per-locus activations, as counts of floats.
    """
    from lociflow.model.network import build_network
    from lociflow.model.plan import plan_network

    plan = plan_network(architecture, channels, window, n_classes)
    layers = [layer for section in plan.branches.values() for layer in section] + list(plan.common)
    activations = sum(shape.features for shape in plan.inputs.values()) + sum(layer.output.features for layer in layers)
    try:
        with torch.device("meta"):
            network = build_network(architecture, channels, window, n_classes)
    except (OverflowError, RuntimeError, TypeError, ValueError) as exc:  # sizes past what torch can index
        raise ModelFileError(
            f"the architecture's layer sizes are too large to build a network ({str(exc).splitlines()[0][:200]}); "
            "the spec is damaged or was not written by lociflow.") from None
    parameters = sum(p.numel() for p in network.parameters()) + sum(b.numel() for b in network.buffers())
    return ModelSize(int(parameters) * members, int(activations) * members)


def available_memory(device: torch.device) -> int:
    """Bytes free for a model on ``device``: free GPU memory, else the OS's available memory.

    Parameters
    ----------
    device : torch.device
        Where the model will live.

    Returns
    -------
    int
        Free bytes (``MemAvailable`` of ``/proc/meminfo`` on Linux for the CPU).
    """
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:,.2f} GiB"


def check_fits(size: ModelSize, device: torch.device, where: str, batch_size: int = 1) -> None:
    """Refuse a model whose weights and one batch of activations exceed the free memory.

    Parameters
    ----------
    size : ModelSize
        From :func:`model_size`.
    device : torch.device
        Where the model will live.
    where : str
        What to name in the message (the spec file).
    batch_size : int
        Loci per batch. Default is 1, the least any use needs.

    Raises
    ------
    ModelFileError
        With the parameter count, the activation size and the memory free.
    """
    needed = size.bytes(batch_size)
    free = available_memory(device)
    if needed <= free:
        return
    raise ModelFileError(
        f"{where}: the model needs {size.parameters:,} parameters ({_gib(size.parameters * _FLOAT_BYTES)}) and "
        f"{size.activations * batch_size:,} activation values for a batch of {batch_size} "
        f"({_gib(size.activations * batch_size * _FLOAT_BYTES)}), {_gib(needed)} in all, but {device} has "
        f"{_gib(free)} free. The spec's layer sizes or window are damaged, or the model needs a larger machine.")
