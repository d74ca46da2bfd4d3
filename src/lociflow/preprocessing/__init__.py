"""Preprocessing: loci (BED or FASTA per class) become an encoded, balanced, split dataset.

The stage function is :func:`lociflow.preprocessing.run.preprocess`.
"""
