"""Explain trained networks: attributions, mutagenesis, temporal scores, class optimisation.

Every method takes the same arguments (the network, a dict of ``[N, L, C]`` arrays keyed
by branch, the target class, ``batch_size``, ``device``, ``random_state``, ``verbose``)
and returns a small named tuple of numpy arrays shaped like the inputs. The class score
is the target class's logit throughout (see :mod:`lociflow.interpret.scoring`).
"""

from __future__ import annotations

from lociflow.interpret.attribution import (
    Attributions,
    IGResult,
    ShapResult,
    deep_lift_shap,
    integrated_gradients,
    saliency,
)
from lociflow.interpret.mutagenesis import in_silico_mutagenesis
from lociflow.interpret.optimize import OptimizeResult, optimize_class, plot_logo
from lociflow.interpret.scoring import class_scores
from lociflow.interpret.temporal import TemporalResult, plot_temporal, temporal_scores

__all__ = [
    "Attributions",
    "IGResult",
    "ShapResult",
    "TemporalResult",
    "OptimizeResult",
    "saliency",
    "integrated_gradients",
    "deep_lift_shap",
    "in_silico_mutagenesis",
    "temporal_scores",
    "optimize_class",
    "plot_logo",
    "plot_temporal",
    "class_scores",
]
