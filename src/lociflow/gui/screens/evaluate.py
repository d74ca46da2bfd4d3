"""Evaluate page: a model and held-out loci -> metrics and ROC / precision-recall curves."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lociflow.config import EvaluateConfig
from lociflow.gui import settings, state, suggest
from lociflow.gui.forms import Form, genome_field, track_fields
from lociflow.gui.params import params_loader
from lociflow.gui.running import job_panel, run_controls
from lociflow.gui.views import show_evaluate

STAGE = "evaluate"
MODE_KEY = "evaluate::#mode"
MODES = ("A split of a dataset", "New labelled files (BED or FASTA per class)")
FILE_FIELDS = ("classes", "genome", "conservation", "tracks")


def _after_load(values: dict[str, Any]) -> None:
    state.put(MODE_KEY, MODES[1] if values.get("classes") else MODES[0])


def render() -> None:
    """Draw the Evaluate page."""
    root = settings.output_root()
    st.title("Evaluate")
    st.markdown(
        "Judge a trained model on loci it has not seen: a split of a dataset (the test split, or the "
        "black-box split kept aside), or new files with a class each. New files are windowed and "
        "encoded exactly as the model's training data. Same as `lociflow evaluate --config params.yaml`."
    )
    params_loader(STAGE, EvaluateConfig, root, after=_after_load)
    form = Form(STAGE, EvaluateConfig, root / "uploads")
    with st.container(border=True):
        st.subheader("Model and loci")
        model = form.field("model", required=True, label="Model folder", dir=True,
                           initial=suggest.initial(suggest.latest_run(root, "train")),
                           help="A model made by train. The newest one is suggested.")
        state.init(MODE_KEY, MODES[0])
        mode = st.radio("Evaluate on", MODES, key=MODE_KEY, horizontal=True)
        state.keep(MODE_KEY)
        if mode == MODES[0]:
            for name in FILE_FIELDS:
                form.skip(name)
            form.field("data", required=True, label="Dataset folder", dir=True, initial=suggest.dataset_of(model),
                       help="The dataset the model was trained on is suggested.")
            form.field("split", help="test: the held-out split; blackbox: the split kept aside for the end.")
        else:
            form.skip("data")
            form.skip("split")
            form.field("classes", required=True, label="Classes and their files")
            genome_field(form, form.typed_files.get(("classes",), []))
            track_fields(form, model)
    classes = suggest.model_classes(model) or []
    if len(classes) == 2:  # which class the one ROC and PR curve are about
        form.field("positive", kind="choice", options=classes, label="Positive class",
                   none_label=f"default: the first class ({classes[0]})")
    elif classes:
        form.skip("positive")  # three or more classes: a curve each
    with st.expander("More options"):
        form.rest(title=None)
    config = form.check()
    run_controls(STAGE, config, root)
    job_panel(STAGE, root, results=show_evaluate)
