"""User-facing errors.

Anything a user can cause (a bad file, a bad option, a missing input) raises
:class:`LociflowError` with a sentence they can act on. The CLI prints such errors
without a traceback; every other exception is a bug and is shown in full, with the
path of the run log.
"""

from __future__ import annotations


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
