"""Motif discovery from attributions with TF-MoDISco (modisco-lite).

Attribution maps of single loci are noisy; TF-MoDISco (Shrikumar et al. 2018,
arXiv:1811.00416) cuts the high-attribution stretches ("seqlets") out of many loci,
clusters them and aligns each cluster into a motif: a contribution weight matrix
(CWM, what the model credits), a position probability matrix (PPM, the letters seen)
and the number of seqlets behind it. It reads one-hot sequences and the *hypothetical*
contributions of every base at every position, which
:func:`lociflow.interpretation.attribution.deep_lift_shap` returns.

TF-MoDISco may find nothing: too few loci, weak attributions, or a model that has not
learnt a motif. That is a result, reported as an empty list with the reason, never a
crash.
"""

from __future__ import annotations

import logging
import os
from typing import NamedTuple

import numpy as np
import pandas as pd

from lociflow.errors import LociflowError

log = logging.getLogger("lociflow.interpret.motifs")

__all__ = ["Pattern", "DiscoveryResult", "discover_motifs", "trim_pattern", "motif_table"]


class Pattern(NamedTuple):
    """A discovered motif: ``name``, ``sign`` (+1 raises the class score, -1 lowers it),
    ``ppm [L, 4]``, ``cwm [L, 4]`` (contributions), ``hcwm [L, 4]`` (hypothetical
    contributions) and ``n_seqlets``."""

    name: str
    sign: int
    ppm: np.ndarray
    cwm: np.ndarray
    hcwm: np.ndarray
    n_seqlets: int


class DiscoveryResult(NamedTuple):
    """``patterns`` found (most seqlets first) and ``note``: why none were found, or ''."""

    patterns: list[Pattern]
    note: str


def _window_settings(length: int) -> dict[str, int]:
    """Seqlet window and flanks that fit the input length (modisco-lite's defaults for >= 100 nt)."""
    sliding = max(5, min(21, length // 5))
    flank = max(2, min(10, length // 10))
    return {"sliding_window_size": sliding, "flank_size": flank,
            "trim_to_window_size": min(30, sliding + flank), "initial_flank_to_add": min(10, flank)}


def discover_motifs(
    onehot: np.ndarray,
    hypothetical: np.ndarray,
    max_seqlets: int = 2000,
    min_seqlets: int = 20,
    n_leiden_runs: int = 5,
    random_state: int | None = 0,
    verbose: bool = False,
    **options,
) -> DiscoveryResult:
    """Run TF-MoDISco on ``onehot`` ``[N, L, 4]`` and its ``hypothetical`` contributions.

    Parameters
    ----------
    onehot : numpy.ndarray
        One-hot sequences ``[N, L, 4]``.
    hypothetical : numpy.ndarray
        Hypothetical contributions ``[N, L, 4]`` for one class (e.g. DeepSHAP's).
    max_seqlets : int
        Seqlets kept per sign; caps the run time. Default is 2000.
    min_seqlets : int
        Fewest seqlets for a sign to be clustered, and for a pattern to be kept. Default is 20.
    n_leiden_runs : int
        Leiden clustering restarts (modisco-lite's default is 50; 5 is much faster and
        finds the strong motifs). Default is 5.
    random_state : int or None
        Seeds numpy's global generator, which modisco-lite draws from. Default is 0.
    verbose : bool
        Let modisco-lite print its progress. Default is False.
    **options
        Any other ``modiscolite.tfmodisco.TFMoDISco`` argument.

    Returns
    -------
    DiscoveryResult
    """
    onehot = np.asarray(onehot, dtype=np.float32)
    hypothetical = np.asarray(hypothetical, dtype=np.float32)
    if onehot.shape != hypothetical.shape or onehot.ndim != 3 or onehot.shape[2] != 4:
        raise LociflowError(
            f"TF-MoDISco needs one-hot sequences and hypothetical contributions of the same shape [N, L, 4]; "
            f"got {onehot.shape} and {hypothetical.shape}."
        )
    n, length, _ = onehot.shape
    if n < 2 or length < 12:
        return DiscoveryResult([], f"too little input for TF-MoDISco ({n} loci of {length} nt)")
    settings = {**_window_settings(length), "max_seqlets_per_metacluster": max_seqlets,
                "min_metacluster_size": min_seqlets, "final_min_cluster_size": min_seqlets,
                "n_leiden_runs": n_leiden_runs, "verbose": verbose, **options}
    from modiscolite.tfmodisco import TFMoDISco

    if random_state is not None:
        np.random.seed(random_state)
    log.info("TF-MoDISco on %d loci of %d nt", n, length)
    try:
        positive, negative = TFMoDISco(onehot, hypothetical, **settings)
    except (ValueError, IndexError, RuntimeError, ZeroDivisionError) as exc:
        # modisco-lite raises these on inputs with too few or too weak seqlets
        log.warning("TF-MoDISco found no patterns: %s", exc)
        return DiscoveryResult([], f"TF-MoDISco stopped: {exc}")
    patterns = []
    for sign, found in ((1, positive), (-1, negative)):
        prefix = "pos" if sign > 0 else "neg"
        for i, pattern in enumerate(found or []):
            patterns.append(Pattern(
                f"{prefix}_pattern_{i}", sign, np.asarray(pattern.sequence, dtype=np.float64),
                np.asarray(pattern.contrib_scores, dtype=np.float64),
                np.asarray(pattern.hypothetical_contribs, dtype=np.float64), len(pattern.seqlets)))
    patterns.sort(key=lambda p: -p.n_seqlets)
    note = "" if patterns else (
        f"TF-MoDISco found no motif supported by at least {min_seqlets} seqlets in {n} loci; "
        "give more loci or check that the model predicts this class well"
    )
    # whether no pattern is a problem depends on the class: the caller says so (interpret does, naming it)
    return DiscoveryResult(patterns, note)


def trim_pattern(pattern: Pattern, fraction: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """The PPM and CWM cut to the span where the contribution reaches ``fraction`` of its peak.

    Parameters
    ----------
    pattern : Pattern
        A TF-MoDISco pattern.
    fraction : float
        Share of the largest per-position absolute contribution that the first and last
        kept positions must reach. Default is 0.3.

    Returns
    -------
    ppm, cwm : numpy.ndarray
        ``[L', 4]`` slices of the pattern's PPM and CWM (the whole pattern when its
        contribution is zero everywhere).
    """
    score = np.abs(pattern.cwm).sum(axis=1)
    keep = np.where(score >= fraction * score.max())[0] if score.max() > 0 else np.arange(len(score))
    lo, hi = keep.min(), keep.max() + 1
    return pattern.ppm[lo:hi], pattern.cwm[lo:hi]


def motif_table(patterns: list[Pattern], database, top: int = 3, prefix: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A summary row per pattern and its Tomtom matches against ``database``.

    Parameters
    ----------
    patterns : list of Pattern
        TF-MoDISco patterns; each is trimmed (:func:`trim_pattern`) before matching.
    database : MotifDatabase or None
        Known motifs; None leaves the match columns empty.
    top : int
        Tomtom hits kept per pattern. Default is 3.
    prefix : str
        Put before each pattern name, e.g. a class name. Default is ``""``.

    Returns
    -------
    summary : pandas.DataFrame
        ``pattern, sign, n_seqlets, consensus, best_match, best_name, p_value, q_value``.
    matches : pandas.DataFrame
        ``pattern, rank, jaspar_id, name, p_value, q_value, offset, strand``.
    """
    from lociflow.interpretation.motifdb import consensus, tomtom_matches

    trimmed = {prefix + p.name: trim_pattern(p)[0] for p in patterns}
    if database is not None and trimmed:
        matches = tomtom_matches(trimmed, database, top=top).rename(columns={"query": "pattern"})
    else:
        matches = pd.DataFrame(columns=["pattern", "rank", "jaspar_id", "name", "p_value", "q_value", "offset", "strand"])
    best = matches[matches["rank"] == 1].set_index("pattern") if len(matches) else None
    rows = []
    for p in patterns:
        key = prefix + p.name
        row = {"pattern": key, "sign": "+" if p.sign > 0 else "-", "n_seqlets": p.n_seqlets,
               "consensus": consensus(trimmed[key]), "best_match": "", "best_name": "",
               "p_value": np.nan, "q_value": np.nan}
        if best is not None and key in best.index:
            hit = best.loc[key]
            row.update(best_match=hit["jaspar_id"], best_name=hit["name"], p_value=hit["p_value"], q_value=hit["q_value"])
        rows.append(row)
    return pd.DataFrame(rows, columns=["pattern", "sign", "n_seqlets", "consensus", "best_match", "best_name",
                                       "p_value", "q_value"]), matches


def save_patterns(patterns: list[Pattern], path: str | os.PathLike) -> None:
    """The patterns' matrices as one ``.npz`` (``<name>_ppm``, ``<name>_cwm``, ``<name>_hcwm``).

    Parameters
    ----------
    patterns : list of Pattern
        The patterns to save, untrimmed.
    path : str or os.PathLike
        The ``.npz`` file, written atomically (compressed).
    """
    from lociflow.io.atomic import atomic_open

    arrays = {}
    for p in patterns:
        arrays[f"{p.name}_ppm"], arrays[f"{p.name}_cwm"], arrays[f"{p.name}_hcwm"] = p.ppm, p.cwm, p.hcwm
    with atomic_open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
