"""Train page: a dataset -> a trained network, with live curves and the network diagram."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from lociflow.config import AUTO_ENSEMBLE, AUTO_ENSEMBLE_MAX_LOCI, TrainConfig
from lociflow.gui import settings, state, suggest
from lociflow.gui.forms import Form
from lociflow.gui.params import params_loader
from lociflow.gui.running import job_panel, run_controls
from lociflow.gui.views import show_history, show_network, show_train

STAGE = "train"
NET_KEY = "train::#network"
NETWORKS = ("A ready architecture (preset)", "My own architecture (YAML)")
EXAMPLE = """branches:
  seq:
    - {type: conv, filters: 64, kernel: 9}
    - {type: pool, method: max}
common:
  - {type: dense, units: 32}
"""


def _after_load(values: dict[str, Any]) -> None:
    state.put(NET_KEY, NETWORKS[1] if values.get("architecture") else NETWORKS[0])


def _live(folder: Path) -> None:
    show_history(folder)
    show_network(folder)


def render() -> None:
    """Draw the Train page."""
    root = settings.output_root()
    st.title("Train")
    st.markdown(
        "Train a network on a dataset made by **Preprocess**. Pick a ready architecture or compose "
        "your own; the best epoch (by the early-stopping monitor) is kept and evaluated on the test "
        "split. Same as `lociflow train --config params.yaml`."
    )
    params_loader(STAGE, TrainConfig, root, after=_after_load)
    form = Form(STAGE, TrainConfig, root / "uploads")
    with st.container(border=True):
        st.subheader("Data and network")
        data = form.field("data", required=True, label="Dataset folder", dir=True,
                          initial=suggest.initial(suggest.latest_run(root, "preprocess")),
                          help="A dataset made by preprocess (the CLI's --data). The newest one is suggested.")
        if "branches" in TrainConfig.model_fields:
            available = suggest.dataset_branches(data)
            if available and len(available) > 1:
                form.field("branches", kind="multi", options=available, label="Branches to train on (empty: all)")
            else:
                form.skip("branches")
        state.init(NET_KEY, NETWORKS[0])
        network = st.radio("Network", NETWORKS, key=NET_KEY, horizontal=True)
        state.keep(NET_KEY)
        if network == NETWORKS[0]:
            form.field("preset", none_label="default (cnn)")
            form.skip("architecture")
        else:
            form.skip("preset")
            state.init(form.key(("architecture",)), EXAMPLE)
            form.field("architecture", height=220,
                       help="Layers per input branch, then the common layers after the branches join. "
                       "Layer types: conv, residual, dense, gru, lstm, attention, pool.")
    with st.container(border=True):
        st.subheader("Training")
        left, right = st.columns(2)
        with left:
            form.field("epochs")
            form.field("batch_size")
            form.field("optimizer")
            form.field("learning_rate")
        with right:
            form.field("weight_decay")
            schedule = form.field("schedule", label="Learning-rate schedule")
            if schedule == "constant":
                form.skip("schedule_options")
            else:
                form.field("schedule_options", kind="yaml", height=80,
                           help="Options of the schedule, e.g. step_size: 10, gamma: 0.5.")
            form.field("class_weights")
            form.field("gradient_clip", help="Clip gradients to this norm (empty: no clipping).")
            form.field("ensemble", label="Networks in the ensemble", fallback=AUTO_ENSEMBLE,
                       help="Train this many networks with successive seeds and average their outputs: "
                       "usually a little more accurate, for that many times the training time. Auto: "
                       f"{AUTO_ENSEMBLE} on a train split of up to {AUTO_ENSEMBLE_MAX_LOCI:,} loci, where "
                       "they gained most, else 1.")
            form.field("ema_decay", label="Weight averaging (EMA decay)",
                       help="Validate and save a moving average of the weights, updated after every "
                       "batch with this decay, e.g. 0.998 (empty: off).")
        form.field("early_stopping")
        with st.expander("Augmentation"):
            form.field("augment")
        with st.expander("Tuning for this dataset"):
            form.field("tune", label="tuning", help="Search the architecture family, depth, width, learning rate, "
                       "dropout and shift on the validation split first, then train with the best settings. "
                       "Each trial is one training, so this costs about trials + 1 trainings.")
    with st.expander("Hardware"):
        for name in ("accelerator", "devices", "precision", "strategy", "num_nodes", "num_workers"):
            form.field(name)
    with st.expander("More options"):
        form.rest(title=None)
        resume = st.checkbox("Resume an interrupted run of the name below", key="train::#resume",
                             help="The CLI's --resume: continue from the last checkpoint of that run.")
    config = form.check()
    run_controls(STAGE, config, root, options={"resume": True} if resume else None)
    job_panel(STAGE, root, live=_live, results=show_train)
