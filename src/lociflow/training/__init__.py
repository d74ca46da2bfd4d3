"""The parts of ``lociflow train``: batches from memory-mapped arrays, the Lightning module,
callbacks (history, plots, checkpoints, interruption) and the test-split scoring.

The entry point is :func:`lociflow.training.run.train`.
"""
