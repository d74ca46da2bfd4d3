"""Atomic file writes: write under a temporary name, then rename.

An interrupted run therefore never leaves a file that looks complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import yaml

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    The folder of ``path`` is made if needed; on an error the temporary file is removed
    and ``path`` is left as it was.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    mode : str
        Mode for :func:`open`, a writing one. Default is ``"w"``.
    **kwargs
        Passed to :func:`open` (e.g. ``encoding``).

    Yields
    ------
    IO
        The open temporary file; it is flushed and synced to disk before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    # mkstemp makes the file owner-only; outputs get the usual permissions instead
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a library that writes by file name;
    on success it is renamed over ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; its folder is made if needed.

    Yields
    ------
    Path
        An existing empty temporary file in the same folder; removed on an error.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    text : str
        Written as UTF-8.
    """
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    data : object
        JSON-serialisable data; written with an indent of 2 and a final newline.
    """
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_yaml(path: str | os.PathLike, data: Any, header: str | None = None) -> None:
    """Write ``data`` as block-style YAML (keys in insertion order), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    data : object
        Data ``yaml.safe_dump`` accepts.
    header : str or None
        Comment put above the data, each line prefixed with ``# ``. Default is None.
    """
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    write_text(path, text)


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save ``array`` in ``.npy`` format atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file (no suffix is added).
    array : numpy.ndarray
        Saved C-contiguous, without pickling (object arrays are refused).
    """
    with atomic_open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
