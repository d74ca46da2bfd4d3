"""The dinucleotide shuffle, kept importable here for code written before it moved.

The shuffle now lives in :mod:`lociflow.preprocessing.shuffle`, because preprocessing
draws shuffled negative classes from it and may not import interpretation.
"""

from __future__ import annotations

from lociflow.preprocessing.shuffle import dinucleotide_shuffle

__all__ = ["dinucleotide_shuffle"]
