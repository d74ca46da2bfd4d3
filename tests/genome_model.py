"""A model trained on a planted CTCF motif, saved as a model folder, and a genome holding the motif.

Variant-effect and scan tests need an answer known in advance: the network of
:func:`planted.ctcf_cnn` separates sequences with the CTCF consensus from random ones,
and the genome below carries that consensus at :data:`SITES`, so a variant inside a
site must lower the motif class and a variant in random sequence must do nothing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from planted import BASES, ctcf_cnn

WINDOW = 100
#: (chromosome, 0-based start) of each planted consensus
SITES = (("chr1", 1000), ("chr1", 3000), ("chr2", 1500))
SIZES = {"chr1": 5000, "chr2": 3000}
CLASSES = ["background", "motif"]


@lru_cache(maxsize=None)
def genome_sequences(seed: int = 7) -> dict[str, str]:
    """The chromosomes as strings (upper case), with the consensus planted at :data:`SITES`."""
    from planted import jaspar_motif

    consensus = jaspar_motif().consensus
    rng = np.random.default_rng(seed)
    chroms = {name: list(rng.choice(list(BASES), size=size)) for name, size in SIZES.items()}
    for chrom, start in SITES:
        chroms[chrom][start:start + len(consensus)] = list(consensus)
    return {k: "".join(v) for k, v in chroms.items()}


def write_genome(path: Path, prefix: str = "") -> Path:
    """Write the genome as FASTA (60 nt per line); ``prefix`` is put before each name."""
    lines = []
    for name, seq in genome_sequences().items():
        lines.append(f">{prefix}{name}\n")
        lines.extend(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))
    path.write_text("".join(lines))
    return path


def save_planted_model(folder: Path, genome: Path | None = None) -> Path:
    """Save the planted CTCF network as a lociflow model folder (classes background, motif)."""
    from lociflow.model.io import save_model

    _, _, network = ctcf_cnn()
    preprocess = {"window": WINDOW, "alphabet": "dna", "branches": ["seq"], "strand": True,
                  "genome": str(genome) if genome else None}
    spec = {"classes": CLASSES, "n_classes": 2, "branches": ["seq"], "channels": {"seq": list(BASES)},
            "window": WINDOW, "alphabet": "dna", "preprocess": preprocess, "architecture": network.architecture}
    return save_model(folder, network, spec)
