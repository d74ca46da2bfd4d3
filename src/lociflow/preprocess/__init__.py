"""Preprocessing: loci (BED or FASTA per class) become an encoded, balanced, split dataset."""

from lociflow.stage import make_callable

make_callable(__name__, "lociflow.preprocess.pipeline", "preprocess")
