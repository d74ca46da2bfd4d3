"""Search page: try many training parameters (Optuna) and keep the best.

Shown in the navigation only when :mod:`lociflow.searching.run` is installed. The search runs
on a ``search:`` section (the space and the budget) plus a ``train:`` section (the base
training parameters every trial starts from), both written into the job's config file.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lociflow.config import SearchConfig, TrainConfig
from lociflow.errors import LociflowError
from lociflow.gui import paths, settings, state, suggest
from lociflow.gui.fields import md_escape
from lociflow.gui.forms import Form
from lociflow.gui.params import params_loader, read_params
from lociflow.gui.running import job_panel, run_controls
from lociflow.gui.views import show_search
from lociflow.gui.worker import stage_available
from lociflow.layout import PARAMS_FILE

STAGE = "search"
SPACE_EXAMPLE = """learning_rate: {type: float, low: 0.0001, high: 0.01, log: true}
batch_size: {type: categorical, choices: [64, 128, 256]}
"""


def render() -> None:
    """Draw the Search page."""
    root = settings.output_root()
    st.title("Search")
    if not stage_available(STAGE):
        st.info("Hyperparameter search is not part of this installation.")
        return
    st.markdown(
        "Train many models with parameters drawn from a search space, prune poor trials early, and "
        "keep the best. Same as `lociflow search --config params.yaml`."
    )
    params_loader(STAGE, SearchConfig, root)
    form = Form(STAGE, SearchConfig, root / "uploads")
    with st.container(border=True):
        form.field("data", required=True, label="Dataset folder", dir=True,
                   initial=suggest.initial(suggest.latest_run(root, "preprocess")))
        state.init(form.key(("space",)), SPACE_EXAMPLE)
        form.field("space", label="Search space", height=160)
        left, right = st.columns(2)
        with left:
            form.field("trials")
            form.field("sampler")
        with right:
            form.field("objective")
            form.field("pruner")
    with st.container(border=True):
        st.subheader("Base training parameters")
        entered = paths.path_field("search::#train_params", "A train run's params.yaml (optional)",
                                   "Every trial starts from these; empty: the defaults of train.",
                                   root / "uploads", initial=_latest_train_params(root))
        base = {}
        if entered:
            try:
                base = read_params("train", TrainConfig, entered[0])
            except LociflowError as exc:
                form.problem((), str(exc))
    with st.expander("More options"):
        form.rest(title=None)
    config = form.check()
    if config is not None and config.data is not None:
        config = _checked_against_dataset(config, base)
    document = {"search": config.dump(), "train": base} if config is not None else None
    run_controls(STAGE, config, root, document=document)
    job_panel(STAGE, root, live=show_search, results=show_search)


def _checked_against_dataset(config: SearchConfig, base: dict) -> SearchConfig | None:
    """Check the space's names and values against the dataset and base, as the search will
    before its first trial; a problem is shown and keeps Run disabled."""
    from lociflow.searching.run import check_search

    try:
        check_search(config, train=base)
    except LociflowError as exc:
        st.error(f"**Fix this before running:**\n- {md_escape(str(exc))}", icon="⚠️")
        return None
    return config


def _latest_train_params(root: Path) -> str | None:
    folder = suggest.latest_run(root, "train")
    return str(folder / PARAMS_FILE) if folder and (folder / PARAMS_FILE).exists() else None
