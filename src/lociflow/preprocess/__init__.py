"""Preprocessing: loci (BED or FASTA per class) become an encoded, balanced, split dataset."""
