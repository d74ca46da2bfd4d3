"""One progress helper for every long step, so that bars look the same everywhere.

Bars go to standard error (standard output is kept for results, e.g. the run folder
path the CLI prints last). Set ``LOCIFLOW_PROGRESS=0`` to silence them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def enabled() -> bool:
    """Whether progress bars are shown (``LOCIFLOW_PROGRESS=0`` turns them off)."""
    return os.environ.get("LOCIFLOW_PROGRESS", "1") not in ("0", "false", "no")


def track(
    iterable: Iterable[T], description: str, total: int | None = None, unit: str = "it"
) -> Iterator[T]:
    """Iterate over ``iterable`` while showing a progress bar labelled ``description``.

    Parameters
    ----------
    iterable : iterable
        The items.
    description : str
        The bar's label.
    total : int or None
        The number of items, when ``iterable`` has no length. Default is None.
    unit : str
        What an item is called on the bar. Default is ``"it"``.

    Yields
    ------
    object
        The items of ``iterable``.
    """
    yield from tqdm(
        iterable,
        desc=description,
        total=total,
        unit=unit,
        disable=not enabled(),
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=0.5,
    )


def bar(description: str, total: int | None = None, unit: str = "it") -> tqdm:
    """A manual progress bar: call ``.update(n)`` and close it (or use it as a context).

    Parameters
    ----------
    description : str
        The bar's label.
    total : int or None
        The expected count. Default is None (unknown: the bar counts without an end).
    unit : str
        What is counted. Default is ``"it"``.

    Returns
    -------
    tqdm.tqdm
        The bar, on standard error; disabled when :func:`enabled` is false.
    """
    return tqdm(
        desc=description,
        total=total,
        unit=unit,
        disable=not enabled(),
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=0.5,
    )
