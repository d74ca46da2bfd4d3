"""Explain trained networks: attributions, mutagenesis, temporal scores, class optimisation,
filter motifs, TF-MoDISco motifs and global importance analysis (``interpret`` runs them all).

Every method takes the same arguments (the network, a dict of ``[N, L, C]`` arrays keyed
by branch, the target class, ``batch_size``, ``device``, ``random_state``, ``verbose``)
and returns a small named tuple of numpy arrays shaped like the inputs. The class score
is the target class's logit throughout (see :mod:`lociflow.interpretation.scoring`).
"""

from __future__ import annotations

from lociflow.interpretation.attribution import (
    Attributions,
    IGResult,
    ShapResult,
    deep_lift_shap,
    integrated_gradients,
    saliency,
)
from lociflow.interpretation.filters import FilterResult, filter_motifs, filter_table
from lociflow.interpretation.gia import (
    GIAResult,
    ScanResult,
    global_importance,
    make_backgrounds,
    position_scan,
    spacing_scan,
)
from lociflow.interpretation.motifdb import (
    MotifDatabase,
    load_jaspar,
    load_meme,
    load_motifs,
    tomtom_matches,
)
from lociflow.interpretation.motifs import DiscoveryResult, discover_motifs, motif_table
from lociflow.interpretation.mutagenesis import in_silico_mutagenesis
from lociflow.interpretation.optimize import OptimizeResult, optimize_class, plot_logo
from lociflow.interpretation.scoring import class_scores
from lociflow.interpretation.temporal import (
    TemporalResult,
    plot_temporal,
    temporal_scores,
)

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
    "FilterResult",
    "filter_motifs",
    "filter_table",
    "GIAResult",
    "ScanResult",
    "make_backgrounds",
    "global_importance",
    "position_scan",
    "spacing_scan",
    "MotifDatabase",
    "load_jaspar",
    "load_meme",
    "load_motifs",
    "tomtom_matches",
    "DiscoveryResult",
    "discover_motifs",
    "motif_table",
]

