"""Where a network computes: the device a user names, and the CPU threads PyTorch uses.

Every stage that runs a network (train, evaluate, predict, interpret, search) and every
interpretation method resolves its ``device`` option here, so ``auto`` means the same
everywhere and a device this machine lacks is refused with the same message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from lociflow.errors import LociflowError

__all__ = ["resolve_device", "torch_threads"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device for a user's ``device`` option.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (the first CUDA GPU when present, else Apple's Metal backend when
        present, else the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        Default is ``"auto"``.

    Returns
    -------
    torch.device
        The device.

    Raises
    ------
    LociflowError
        For a name torch does not know or a device this machine does not have.
    """
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise LociflowError(f"Unknown device {device!r} ({exc}); use cpu, cuda, cuda:N, mps or auto.") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise LociflowError(f"Device {str(device)!r} was asked for, but no CUDA GPU is available here; "
                                "use cpu or auto (--device cpu).")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise LociflowError(f"Device {str(device)!r} was asked for, but this machine has "
                                f"{torch.cuda.device_count()} CUDA GPU(s) (cuda:0 to cuda:{torch.cuda.device_count() - 1}).")
    if resolved.type == "mps" and not _mps_available():
        raise LociflowError("Device 'mps' was asked for, but Apple's Metal backend is not available here; "
                            "use cpu or auto (--device cpu).")
    return resolved


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` CPU threads in PyTorch inside the block, and restore the number after.

    Parameters
    ----------
    threads : int or None
        Threads for PyTorch's intra-op parallelism; ``None`` or 0 leaves the current
        number (one per core by default).

    Yields
    ------
    None
        Control to the ``with`` block; the previous thread count is restored on exit.
    """
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
