"""Hyperparameter and architecture search on Optuna: the space, the study and its workers,
the trials and the reports. The entry point is :func:`lociflow.searching.run.search`."""
