"""Genome-wide tracks: the model slid along a genome (``lociflow.scan``).

:mod:`lociflow.scanning.run` holds the stage function and the scanner,
:mod:`lociflow.scanning.windows` places the windows, :mod:`lociflow.scanning.tracks` writes
the part files, the bigWigs and the called regions.
"""
