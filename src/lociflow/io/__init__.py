"""Reading and writing files: BED, FASTA, bigWig, dataset and model directories.

Nothing in this package knows about models.
"""
