"""One runner per interpretation method, sharing the chosen loci through a :class:`Context`.

Each runner calls the method's own function (the same a Python user calls), stores its
raw arrays (``ctx.arrays``, saved as ``attributions.npz``), its tables (``ctx.tables``),
its plots (``ctx.figures``) and what the dashboard needs (``ctx.results``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow.layout import ATTRIBUTIONS_FILE

log = logging.getLogger("lociflow.interpret")

__all__ = ["Context", "run_method"]


@dataclass
class Context:
    """Everything the runners share: config, model, loci, and what they produce."""

    cfg: Any
    model: Any
    loci: Any
    analysed: np.ndarray
    targets: np.ndarray
    shown: dict[int, np.ndarray]
    options: dict[str, dict[str, Any]]
    folder: Path
    device: str
    skipped: dict[str, str]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, list[tuple[Path, str]]] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    _inputs: dict[str, np.ndarray] | None = None
    _database: Any = None

    @property
    def network(self):
        return self.model.network

    @property
    def letters(self) -> str:
        return "".join(self.model.channels.get("seq", list("ACGT")))

    @property
    def inputs(self) -> dict[str, np.ndarray]:
        """The analysed loci's inputs (float32, in memory)."""
        if self._inputs is None:
            self._inputs = self.loci.take(self.analysed)
        return self._inputs

    @property
    def shown_order(self) -> np.ndarray:
        """Positions into the analysed loci of every shown locus, class by class."""
        parts = [self.shown[c] for c in sorted(self.shown)]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def common(self) -> dict[str, Any]:
        return {"batch_size": self.cfg.batch_size, "device": self.device, "random_state": self.cfg.seed,
                "verbose": True}

    def database(self):
        """The motif database (loaded once): the user's MEME file, or JASPAR."""
        if self._database is None:
            from lociflow.interpretation.motifdb import load_motifs

            self._database = load_motifs(self.cfg.motif_db, self.cfg.jaspar_release, self.cfg.jaspar_collection,
                                         self.cfg.jaspar_taxon)
            log.info("motif database: %s (%d motifs)", self._database.source, len(self._database))
        return self._database

    def plot_path(self, *parts: str) -> Path:
        """The path of a plot under ``plots/``, its folder created.

        Parameters
        ----------
        *parts : str
            Path parts below ``plots/`` (e.g. ``"modisco"``, ``"class0_p1_cwm.png"``).

        Returns
        -------
        Path
            ``folder/plots/<parts>``.
        """
        path = self.folder.joinpath("plots", *parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def save_arrays(self) -> None:
        from lociflow.io.atomic import atomic_open

        arrays = {"index": self.analysed, "target": self.targets, "shown": self.shown_order, **self.arrays}
        with atomic_open(self.folder / ATTRIBUTIONS_FILE, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    def loci_table(self) -> pd.DataFrame:
        meta = self.loci.meta.iloc[self.analysed].reset_index(drop=True)
        table = pd.DataFrame({"row": self.analysed})
        for column in ("id", "chrom", "start", "end", "strand"):
            if column in meta:
                table[column] = meta[column].to_numpy()
        classes = self.model.classes
        labels = self.loci.labels[self.analysed]
        table["label"] = [classes[i] if i >= 0 else "" for i in labels]
        table["target"] = [classes[i] for i in self.targets]
        for k, name in enumerate(classes):
            table[f"p_{name}"] = self.loci.probs[self.analysed, k]
        shown_for = np.full(len(self.analysed), "", dtype=object)
        for c, rows in self.shown.items():
            shown_for[rows] = classes[c]
        table["shown_for"] = shown_for
        return table


def run_method(ctx: Context, method: str) -> None:
    """Run one method (its name as in ``--methods``) and store its outputs in ``ctx``.

    Parameters
    ----------
    ctx : Context
        The shared loci and outputs; the method's options are ``ctx.options[method]``.
    method : str
        The method name.
    """
    RUNNERS[method](ctx, ctx.options[method])


def _per_branch(ctx: Context, prefix: str, values: dict[str, np.ndarray]) -> None:
    for branch, array in values.items():
        ctx.arrays[f"{prefix}_{branch}"] = np.asarray(array, dtype=np.float32)


def _saliency(ctx: Context, opts: dict) -> None:
    from lociflow.interpretation.attribution import saliency

    result = saliency(ctx.network, ctx.inputs, ctx.targets, **ctx.common())
    _per_branch(ctx, "saliency", result.gradients)
    _per_branch(ctx, "saliency_x_input", result.gradient_x_input)


def _ig(ctx: Context, opts: dict) -> None:
    from lociflow.interpretation.attribution import integrated_gradients

    result = integrated_gradients(ctx.network, ctx.inputs, ctx.targets, baseline=opts["baseline"], steps=opts["steps"],
                                  n_shuffles=opts["n_shuffles"], noise=opts["noise"], n_noise=opts["n_noise"],
                                  **ctx.common())
    _per_branch(ctx, "ig", result.attributions)
    ctx.arrays["ig_delta"] = np.asarray(result.delta, dtype=np.float32)


def _deepshap(ctx: Context, opts: dict) -> None:
    from lociflow.interpretation.attribution import deep_lift_shap

    result = deep_lift_shap(ctx.network, ctx.inputs, ctx.targets, n_shuffles=opts["n_shuffles"], **ctx.common())
    _per_branch(ctx, "deepshap", result.attributions)
    _per_branch(ctx, "deepshap_hypothetical", result.hypothetical)
    ctx.arrays["deepshap_delta"] = np.asarray(result.delta, dtype=np.float32)
    if result.method != "deeplift":
        ctx.notes["deepshap"] = f"multipliers from {result.method.replace('_', ' ')} (recurrent model)"


def _shown_inputs(ctx: Context) -> tuple[dict[str, np.ndarray], np.ndarray]:
    order = ctx.shown_order
    return {b: a[order] for b, a in ctx.inputs.items()}, ctx.targets[order]


def _ism(ctx: Context, opts: dict) -> None:
    from lociflow.interpretation.mutagenesis import in_silico_mutagenesis

    inputs, targets = _shown_inputs(ctx)
    ctx.arrays["ism_seq"] = in_silico_mutagenesis(ctx.network, inputs, targets, **ctx.common())


def _temporal(ctx: Context, opts: dict) -> None:
    from lociflow.interpretation.temporal import temporal_scores

    inputs, targets = _shown_inputs(ctx)
    result = temporal_scores(ctx.network, inputs, targets, **ctx.common())
    ctx.results["temporal"] = result
    for name in ("forward", "backward", "flip_forward", "flip_backward"):
        ctx.arrays[f"temporal_{name}"] = getattr(result, name)


def _optimize(ctx: Context, opts: dict) -> None:
    from lociflow.interpretation.optimize import logo_rows, optimize_class, plot_logo

    rows, found = [], {}
    for k, cls in enumerate(ctx.model.classes):
        result = optimize_class(ctx.network, ctx.model.channels, ctx.model.window, k, n_restarts=opts["n_restarts"],
                                steps=opts["steps"], lr=opts["lr"], l2=opts["l2"], random_state=ctx.cfg.seed,
                                device=ctx.device, verbose=True)
        ctx.arrays[f"optimize_pwm_class{k}"] = result.pwms
        for rank, (seq, score) in enumerate(zip(result.sequences, result.scores), start=1):
            rows.append({"class": cls, "rank": rank, "score": float(score), "sequence": seq})
        # rows of at most 50 positions stay legible on a page; even rows keep the letters one size
        logos = []
        for start, stop in logo_rows(ctx.model.window, 50):
            path = ctx.plot_path("optimize", f"class{k}_{start + 1}-{stop}.png")
            logos.append(plot_logo(result.pwms[0][start:stop], path, alphabet=ctx.letters,
                                   title=f"{cls}: positions {start + 1}-{stop}", first_position=start + 1))
        found[cls] = {"logos": logos, "result": result}
    ctx.tables["optimize.tsv"] = pd.DataFrame(rows)
    ctx.results["optimize"] = found


def _filters(ctx: Context, opts: dict) -> None:
    from lociflow.interpretation.filters import (
        base_composition,
        filter_motifs,
        filter_table,
        to_ppm,
        trim_ppm,
    )
    from lociflow.interpretation.motifdb import write_meme
    from lociflow.interpretation.optimize import plot_logo

    conv = ctx.model.first_conv["seq"]
    result = filter_motifs(ctx.network, ctx.inputs, conv, "seq", threshold=opts["threshold"],
                           influence_loci=opts["influence_loci"], **ctx.common())
    background = base_composition(ctx.inputs["seq"])
    summary, matches = filter_table(result, ctx.database(), top=3, min_sites=opts["min_sites"],
                                    classes=ctx.model.classes, alphabet=ctx.letters, background=background,
                                    min_information=opts["min_information"])
    ctx.arrays["filters_pfm"] = result.pfms.astype(np.float32)
    ctx.arrays["filters_influence"] = result.influence.astype(np.float32)
    ctx.arrays["filters_n_sites"] = result.n_sites
    ctx.tables["filters.tsv"] = summary
    ctx.tables["filters_tomtom.tsv"] = matches
    informative = set(summary.loc[summary["informative"], "filter"])
    kept = {f"filter{f}": trim_ppm(to_ppm(p), background=background) for f, p in enumerate(result.pfms)
            if f"filter{f}" in informative}
    write_meme({k: v for k, v in kept.items() if len(v)}, ctx.folder / "filters.meme")
    logos = {}
    for row in summary.head(int(opts["logos"])).itertuples():
        f = int(row.filter.removeprefix("filter"))
        if result.n_sites[f] >= opts["min_sites"]:
            logos[row.filter] = plot_logo(to_ppm(result.pfms[f]), ctx.plot_path("filters", f"{row.filter}.png"),
                                          alphabet=ctx.letters)
    ctx.results["filters"] = {"summary": summary, "matches": matches, "logos": logos}


def _modisco(ctx: Context, opts: dict) -> None:
    from lociflow.interpretation.attribution import deep_lift_shap
    from lociflow.interpretation.motifs import (
        discover_motifs,
        motif_table,
        save_patterns,
        trim_pattern,
    )
    from lociflow.interpretation.optimize import plot_logo

    rng = np.random.default_rng(ctx.cfg.seed)
    summaries, matches, found = [], [], {}
    classes = list(opts.get("classes") or ctx.model.classes)
    for k, cls in enumerate(ctx.model.classes):
        if cls not in classes:
            continue
        rows = np.where(ctx.targets == k)[0]
        if len(rows) > opts["loci"]:
            rows = np.sort(rng.choice(rows, opts["loci"], replace=False))
        onehot = ctx.inputs["seq"][rows]
        if "deepshap_hypothetical_seq" in ctx.arrays:
            hyp = ctx.arrays["deepshap_hypothetical_seq"][rows]
        else:
            subset = {b: a[rows] for b, a in ctx.inputs.items()}
            hyp = deep_lift_shap(ctx.network, subset, k, n_shuffles=opts["n_shuffles"], **ctx.common()).hypothetical["seq"]
        log.info("TF-MoDISco for class %s on %d loci", cls, len(rows))
        result = discover_motifs(onehot, hyp, max_seqlets=opts["max_seqlets"], min_seqlets=opts["min_seqlets"],
                                 n_leiden_runs=opts["n_leiden_runs"], random_state=ctx.cfg.seed)
        if result.note:
            ctx.notes[f"modisco:{cls}"] = result.note
        summary, match = motif_table(result.patterns, ctx.database(), top=3, prefix=f"{cls}/")
        summary.insert(0, "class", cls)
        summaries.append(summary)
        matches.append(match)
        logos = {}
        for p in result.patterns:
            ppm, cwm = trim_pattern(p)
            stem = f"class{k}_{p.name}"
            logos[f"{cls}/{p.name}"] = (
                plot_logo(cwm, ctx.plot_path("modisco", f"{stem}_cwm.png"), alphabet=ctx.letters, kind="weights"),
                plot_logo(ppm, ctx.plot_path("modisco", f"{stem}_ppm.png"), alphabet=ctx.letters),
            )
        found[cls] = {"patterns": result.patterns, "logos": logos, "note": result.note, "loci": len(rows)}
        save_patterns(result.patterns, ctx.folder / f"modisco_class{k}.npz")
    _explain_missing_motifs(ctx, found)
    ctx.tables["modisco.tsv"] = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    ctx.tables["modisco_tomtom.tsv"] = pd.concat(matches, ignore_index=True) if matches else pd.DataFrame()
    ctx.results["modisco"] = found


def background_note(cls: str, others: list[str]) -> str:
    """What it means that TF-MoDISco found no motif for ``cls`` while it found motifs for ``others``.

    Parameters
    ----------
    cls : str
        The class without a motif.
    others : list of str
        The classes with motifs.

    Returns
    -------
    str
        The note shown on the dashboard and logged.
    """
    other = " and ".join(others)
    return (f"No motif drives the {cls} score, and none is expected if {cls} is background (shuffled, unbound or "
            f"random sequence): the model calls {cls} when the motifs of {other} are missing, so {cls} has no motif "
            f"of its own. It is a concern only if {cls} is defined by binding of its own.")


def made_class_note(cls: str, made_of: str, others: list[str]) -> str:
    """What it means that TF-MoDISco found no motif for ``cls``, a class lociflow made.

    Parameters
    ----------
    cls : str
        The made class without a motif.
    made_of : str
        What it is made of (:func:`lociflow.config_sources.made_classes`).
    others : list of str
        The classes with motifs (may be empty).

    Returns
    -------
    str
        The label shown on the dashboard and logged.
    """
    why = f": the model calls {cls} when the motifs of {' and '.join(others)} are missing" if others else ""
    return f"No motif expected: {cls} is {made_of}, so it has no motif of its own{why}."


def _explain_missing_motifs(ctx: Context, found: dict[str, dict]) -> None:
    """Say plainly why a class has no motif: expected for a class made as background (from the
    model's record of its preprocessing) and for a background class beside classes with motifs;
    worth a warning only when no class has any."""
    from lociflow.config_sources import made_classes

    made = made_classes((ctx.model.preprocess or {}).get("classes"))
    with_motifs = [cls for cls, info in found.items() if info["patterns"]]
    for cls, info in found.items():
        if info["patterns"]:
            continue
        if cls in made:  # labelled where the motifs are listed, not raised as a note
            info["note"] = made_class_note(cls, made[cls], with_motifs)
            info["expected"] = True
            ctx.notes.pop(f"modisco:{cls}", None)
            log.info("TF-MoDISco, class %s: %s", cls, info["note"])
        elif with_motifs:
            info["note"] = background_note(cls, with_motifs)
            ctx.notes[f"modisco:{cls}"] = info["note"]
            log.info("TF-MoDISco, class %s: %s", cls, info["note"])
        else:
            log.warning("TF-MoDISco, class %s: %s", cls, info["note"])


def _gia_motifs(ctx: Context) -> list[str]:
    """The user's motifs, else the top discovered motif per class, else the most influential filter."""
    from lociflow.interpretation.filters import to_ppm, trim_ppm
    from lociflow.interpretation.motifdb import consensus
    from lociflow.interpretation.motifs import trim_pattern

    if ctx.cfg.motifs:
        return list(ctx.cfg.motifs)
    found = []
    for info in ctx.results.get("modisco", {}).values():
        positive = [p for p in info["patterns"] if p.sign > 0]
        if positive:
            found.append(consensus(trim_pattern(positive[0])[0]))
    if not found and "filters" in ctx.results:
        pfms, summary = ctx.arrays["filters_pfm"], ctx.results["filters"]["summary"]
        for name in summary.loc[summary["informative"], "filter"]:  # most influential first
            trimmed = trim_ppm(to_ppm(pfms[int(name.removeprefix("filter"))]))
            if len(trimmed) >= 4:
                found.append(consensus(trimmed))
                break
    return list(dict.fromkeys(found))[:2]


def _as_letters(ctx: Context, text: str) -> str:
    """A nucleotide string in the model's alphabet (U for RNA models); names stay as they are."""
    from lociflow.interpretation.motifdb import IUPAC

    return text.replace("T", "U") if "U" in ctx.letters and set(text) <= set(IUPAC) else text


def _gia(ctx: Context, opts: dict) -> None:
    from lociflow.interpretation.gia import (
        global_importance,
        make_backgrounds,
        plot_effects,
        plot_scan,
        position_scan,
        resolve_motif,
        spacing_scan,
    )

    motifs = _gia_motifs(ctx)
    if not motifs:
        ctx.notes["gia"] = ("no motif to test: give motifs (--motif TGTAAATA, a JASPAR ID or name), "
                            "or run it with modisco or filters to test the motif they find")
        log.warning("GIA: %s", ctx.notes["gia"])
        return
    needs_db = any(not all(ch.upper() in "ACGTURYSWKMBDHVN" for ch in m) for m in motifs)
    database = ctx.database() if needs_db else None
    backgrounds = make_backgrounds(ctx.inputs, n=opts["backgrounds"], random_state=ctx.cfg.seed)
    common = {"batch_size": ctx.cfg.batch_size, "device": ctx.device, "random_state": ctx.cfg.seed}
    classes = ctx.model.classes
    effects, rows, figures = {}, [], []
    window = ctx.model.window
    for i, motif in enumerate(motifs):
        label, pattern = resolve_motif(motif, database)
        label = _as_letters(ctx, label)
        result = global_importance(ctx.network, backgrounds, pattern, **common)
        effects[label] = result
        for k, cls in enumerate(classes):
            rows.append({"motif": label, "inserted": _as_letters(ctx, result.motif),
                         "shuffled": _as_letters(ctx, result.shuffled),
                         "position": result.position, "class": cls, "effect": float(result.effect[k]),
                         "effect_sd": float(result.effect_sd[k]), "control": float(result.control[k]),
                         "control_sd": float(result.control_sd[k])})
        positions = np.unique(np.linspace(0, window - len(pattern), num=min(int(opts["positions"]), window - len(pattern) + 1)).round().astype(int))
        scan = position_scan(ctx.network, backgrounds, pattern, positions=positions, verbose=True, **common)
        ctx.arrays[f"gia_position_motif{i}"] = np.column_stack([scan.values, scan.effect, scan.control]).astype(np.float32)
        paths = plot_scan(scan, classes, ctx.plot_path(f"gia_position_motif{i}"), "insertion start (nt)",
                          f"{label}: effect by position")
        figures.append((paths[0], f"{label} along the window (dashed: shuffled motif)"))
    ctx.tables["gia.tsv"] = pd.DataFrame(rows)
    paths = plot_effects(effects, classes, ctx.plot_path("gia_effects"))
    figures.insert(0, (paths[0], "mean class-score change when the motif is inserted (hatched: its shuffle)"))
    if len(motifs) >= 2:
        a, b = (resolve_motif(m, database)[1] for m in motifs[:2])
        scan = spacing_scan(ctx.network, backgrounds, a, b, verbose=True, **common)
        ctx.arrays["gia_spacing"] = np.column_stack([scan.values, scan.effect, scan.control]).astype(np.float32)
        paths = plot_scan(scan, classes, ctx.plot_path("gia_spacing"), "gap between the motifs (nt)",
                          f"{_as_letters(ctx, a)} then {_as_letters(ctx, b)}: effect by spacing")
        figures.append((paths[0], "two motifs against their spacing (dashed: both shuffled)"))
    ctx.figures["gia"] = figures
    ctx.results["gia"] = effects


RUNNERS = {
    "saliency": _saliency,
    "ig": _ig,
    "deepshap": _deepshap,
    "ism": _ism,
    "temporal": _temporal,
    "optimize": _optimize,
    "filters": _filters,
    "modisco": _modisco,
    "gia": _gia,
}
