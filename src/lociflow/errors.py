"""User-facing errors.

Anything a user can cause (a bad file, a bad option, a missing input) raises
:class:`LociflowError` with a sentence they can act on. The CLI prints such errors
without a traceback; every other exception is a bug and is shown in full, with the
path of the run log.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class LociflowError(Exception):
    """An error caused by the user's input, with a message that says how to fix it."""


class ConfigError(LociflowError):
    """A configuration file or option is invalid."""


class InputFileError(LociflowError):
    """An input file (BED, FASTA, bigWig, ...) is missing or malformed."""


class ModelFileError(LociflowError):
    """A model directory is missing files, corrupted, or of an unknown format."""


class DatasetError(LociflowError):
    """A dataset directory is missing files, corrupted, or does not fit the request."""


@dataclass(frozen=True)
class Outcome:
    """How a stage call ended, as the CLI and the GUI worker report it.

    ``status`` is ``ok``, ``error`` (the user's input: exit code 2), ``stopped`` (Ctrl-C:
    130) or ``failed`` (a bug: 1, its traceback already written to standard error);
    ``console`` is the line for the terminal and ``message`` the one for the GUI.
    """

    status: str
    code: int
    folder: Path | None = None
    console: str = ""
    message: str = ""


def run_stage_call(call: Callable[[], Path]) -> Outcome:
    """Run ``call`` (a stage returning its run folder) and classify how it ended.

    Parameters
    ----------
    call : callable
        Takes no arguments and returns the run folder.

    Returns
    -------
    Outcome
        ``ok`` with the folder, ``error`` for a :class:`LociflowError`, ``stopped`` for
        Ctrl-C, ``failed`` for any other exception (its traceback printed to standard
        error).
    """
    try:
        folder = call()
    except LociflowError as exc:
        return Outcome("error", 2, console=f"Error: {exc}", message=str(exc))
    except KeyboardInterrupt as exc:
        # one line: what was kept and how to go on (set by the run folder), no traceback
        line = getattr(exc, "lociflow_interrupted", None) or "Interrupted before any output was written."
        return Outcome("stopped", 130, console=line, message=line)
    except Exception as exc:  # a bug: show everything we know
        traceback.print_exc()
        log_path = getattr(exc, "lociflow_run_log", None)
        where = f" The run log is {log_path}." if log_path else ""
        line = f"Unexpected error: {exc!r}.{where}"
        return Outcome("failed", 1, console=line, message=line)
    return Outcome("ok", 0, folder=folder)
