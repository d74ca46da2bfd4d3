"""``lociflow interpret``: run the chosen interpretation methods and build the dashboard.

Each method is also a Python function of its own module (attribution, mutagenesis,
temporal, optimize, filters, motifs, gia); this module reads and chooses the loci (see
:mod:`lociflow.interpretation.loci`), decides which methods the model supports, runs them,
and writes everything into one run folder:

- ``index.html``: the self-contained dashboard (:mod:`lociflow.interpretation.dashboard`);
- ``attributions.npz``: one array per method and branch (``ig_seq``, ``saliency_fold``,
  ``deepshap_hypothetical_seq``, ``ism_seq``, ``temporal_forward`` ...), with ``index``
  (rows of the analysed loci in the input), ``target`` (their class) and ``shown``
  (positions into ``index`` of the loci shown in the dashboard; ``ism_*`` and
  ``temporal_*`` arrays are aligned with ``shown``);
- ``loci.tsv``, ``methods.tsv`` and one table per method (``filters.tsv``,
  ``filters_tomtom.tsv``, ``modisco.tsv``, ``modisco_tomtom.tsv``, ``gia.tsv``,
  ``optimize.tsv``), and PNG/SVG plots under ``plots/``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow.config import INTERPRET_METHODS, InterpretConfig, coerce
from lociflow.configfile import suggest
from lociflow.errors import ConfigError
from lociflow.interpretation.filters import MIN_INFORMATION
from lociflow.runs import open_run

log = logging.getLogger("lociflow.interpret")

__all__ = ["interpret", "plan_methods", "METHOD_OPTIONS"]

#: options each method accepts (``options: {method: {key: value}}``) and their defaults
METHOD_OPTIONS: dict[str, dict[str, Any]] = {
    "saliency": {},
    "ig": {"steps": 50, "baseline": "zeros", "n_shuffles": 5, "noise": 0.0, "n_noise": 0},
    "deepshap": {"n_shuffles": 20},
    "ism": {},
    "temporal": {},
    "optimize": {"n_restarts": 5, "steps": 300, "lr": 0.1, "l2": 1e-3},
    "filters": {"threshold": 0.5, "influence_loci": 1000, "min_sites": 10, "logos": 24,
                "min_information": MIN_INFORMATION},
    "modisco": {"loci": 1000, "n_shuffles": 10, "max_seqlets": 2000, "min_seqlets": 20, "n_leiden_runs": 5,
                "classes": []},
    "gia": {"backgrounds": 200, "positions": 40},
}


def method_options(given: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Defaults of every method updated with the user's options; unknown keys are errors.

    Parameters
    ----------
    given : dict of str to dict
        Method name -> its options (``options`` of the interpret config); None or empty
        keeps the defaults.

    Returns
    -------
    dict of str to dict
        Every method of :data:`METHOD_OPTIONS` with its complete options.

    Raises
    ------
    ConfigError
        For an option a method does not take, with the closest valid name.
    """
    merged = {m: dict(d) for m, d in METHOD_OPTIONS.items()}
    for method, values in (given or {}).items():
        for key, value in (values or {}).items():
            if key not in METHOD_OPTIONS[method]:
                valid = list(METHOD_OPTIONS[method])
                raise ConfigError(
                    f"options.{method}: unknown option {key!r}{suggest(key, valid)}; "
                    f"{method} takes {', '.join(valid) if valid else 'no options'}."
                )
            merged[method][key] = value
    return merged


def plan_methods(methods: list[str], model) -> tuple[list[str], dict[str, str]]:
    """The methods to run on ``model`` (in a fixed order) and, per skipped method, why.

    A method the model cannot support (e.g. ``temporal`` without a recurrent layer,
    ``ism`` without a ``seq`` branch) is skipped with a logged warning.

    Parameters
    ----------
    methods : list of str
        The methods asked for (names of :data:`~lociflow.config.INTERPRET_METHODS`, or
        ``all``).
    model : LoadedModel
        The model (its recurrence, branches and first convolution layers).

    Returns
    -------
    run : list of str
        The methods to run, in :data:`~lociflow.config.INTERPRET_METHODS` order.
    skipped : dict of str to str
        Method name -> why it is skipped.
    """
    wanted = list(INTERPRET_METHODS) if "all" in methods else [m for m in INTERPRET_METHODS if m in methods]
    recurrent = bool(model.is_recurrent)
    has_seq = "seq" in model.branches
    reasons = {
        "temporal": None if recurrent else "temporal scores need a recurrent (GRU/LSTM) model; this one has none",
        "deepshap": (
            "DeepLIFT cannot see inside the GRU/LSTM layers of this recurrent model (use ig)"
            if recurrent and "all" in methods else None
        ),
        "ism": None if has_seq else "in-silico mutagenesis needs a seq branch",
        "optimize": None if has_seq else "class optimization needs a seq branch",
        "modisco": None if has_seq else "TF-MoDISco needs a seq branch",
        "gia": None if has_seq else "global importance analysis needs a seq branch",
        "filters": (
            None if "seq" in model.first_conv
            else "filter motifs need a first convolution layer on the seq branch; this model has none"
        ),
    }
    run, skipped = [], {}
    for method in wanted:
        reason = reasons.get(method)
        if reason:
            skipped[method] = reason
            log.warning("skipping %s: %s", method, reason)
        else:
            run.append(method)
    return run, skipped


def interpret(config: Any, output: str | Path, name: str | None = None, force: bool = False) -> Path:
    """Explain a model on loci and write the dashboard; return the run folder.

    Parameters
    ----------
    config : InterpretConfig, dict or YAML path
        ``model``; ``data`` + ``split`` or ``input`` files (+ ``genome``, ``conservation``,
        ``tracks``); ``methods`` (names or ``all``); per-method ``options``; ``top`` loci
        per class; ``max_loci``; GIA ``motifs``; ``threads``; the motif database (``motif_db`` or
        ``jaspar_release``/``jaspar_collection``/``jaspar_taxon``); ``device``; ``seed``.
    output : path
        Output root; the run folder is created inside it.
    name : str, optional
        Run folder name. Default is the stage, the time and a random suffix.
    force : bool
        Replace an existing run folder of that name. Default is False.

    Returns
    -------
    Path
        The run folder (``index.html``, ``attributions.npz``, tables and plots).
    """
    from lociflow.model.inputs import open_input, open_model

    cfg = coerce(InterpretConfig, config, "interpret")
    options = method_options(cfg.options)
    model = open_model(cfg)
    source = open_input(cfg, model)  # refuses input that does not fit before any run folder exists
    for cls in options["modisco"]["classes"] or []:
        if cls not in model.classes:
            raise ConfigError(f"options.modisco.classes names {cls!r}{suggest(cls, model.classes)}, which is not a class of the model; "
                              f"its classes are {', '.join(model.classes)}.")
    to_run, skipped = plan_methods(cfg.methods, model)
    if {"filters", "modisco", "gia"} & set(to_run):
        from lociflow.interpretation.motifdb import check_source

        check_source(cfg.motif_db, cfg.jaspar_release)
    summary = {"model": str(cfg.model), "data": str(cfg.data or ""), "methods": to_run}
    with open_run("interpret", output, cfg.dump(), name, force, summary_params=summary) as run:
        from lociflow.model.device import torch_threads

        with torch_threads(cfg.threads):
            n_loci = _run_all(cfg, source, to_run, skipped, options, run.path)
        run.record(loci=n_loci, methods=",".join(to_run), skipped=",".join(skipped))
    return run.final_path


def _run_all(cfg, source, to_run, skipped, options, folder: Path) -> int:
    """Read and choose the loci, run every method, write arrays, tables and the dashboard.

    Returns the number of loci analysed.
    """
    from lociflow.interpretation.analyses import Context, run_method
    from lociflow.interpretation.dashboard import write_dashboard
    from lociflow.interpretation.loci import choose_loci, read_loci

    model = source.model
    loci = read_loci(source, cfg.batch_size)
    analysed, targets, shown = choose_loci(loci, cfg.top, cfg.max_loci, cfg.seed)
    ctx = Context(cfg=cfg, model=model, loci=loci, analysed=analysed, targets=targets, shown=shown,
                  options=options, folder=folder, device=model.device, skipped=skipped)
    log.info("interpreting %d loci (%d shown) with %s", len(analysed), sum(map(len, shown.values())),
             ", ".join(to_run) or "no method")
    timings: dict[str, float] = {}
    for method in to_run:
        started = time.time()
        run_method(ctx, method)
        timings[method] = round(time.time() - started, 2)
        log.info("%s done in %.1f s", method, timings[method])
    ctx.save_arrays()
    _write_tables(ctx, timings)
    write_dashboard(ctx, timings)
    return int(len(analysed))


def _write_tables(ctx, timings: dict[str, float]) -> None:
    from lociflow.io.atomic import atomic_open

    rows = [{"method": m, "status": "ran", "seconds": s, "reason": ""} for m, s in timings.items()]
    rows += [{"method": m, "status": "skipped", "seconds": np.nan, "reason": r} for m, r in ctx.skipped.items()]
    frames = {"methods.tsv": pd.DataFrame(rows, columns=["method", "status", "seconds", "reason"]),
              "loci.tsv": ctx.loci_table(), **ctx.tables}
    for name, frame in frames.items():
        with atomic_open(ctx.folder / name, "w", encoding="utf-8") as handle:
            frame.to_csv(handle, sep="\t", index=False, float_format="%.6g", na_rep="")
