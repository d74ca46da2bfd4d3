"""Predict page: a model and new loci -> a probability per class for every locus."""

from __future__ import annotations

import streamlit as st

from lociflow.config import PredictConfig
from lociflow.gui import settings, suggest
from lociflow.gui.forms import Form, genome_field, track_fields
from lociflow.gui.params import params_loader
from lociflow.gui.running import job_panel, run_controls
from lociflow.gui.views import show_predict

STAGE = "predict"


def render() -> None:
    """Draw the Predict page."""
    root = settings.output_root()
    st.title("Predict")
    st.markdown(
        "Apply a trained model to new loci: BED (with the genome), FASTA of any lengths, or a text "
        "file with one sequence per line. The result is `predictions.tsv`, one row per locus in input "
        "order with a probability per class. Same as `lociflow predict --config params.yaml`."
    )
    params_loader(STAGE, PredictConfig, root)
    form = Form(STAGE, PredictConfig, root / "uploads")
    with st.container(border=True):
        st.subheader("Model and loci")
        model = form.field("model", required=True, label="Model folder", dir=True,
                           initial=suggest.initial(suggest.latest_run(root, "train")),
                           help="A model made by train. The newest one is suggested.")
        files = form.field("input", required=True, label="Input files", dir=False,
                           placeholder="BED, FASTA (.fa/.fasta) or .txt files, one per line")
        genome_field(form, files)
        track_fields(form, model)
    with st.container(border=True):
        st.subheader("Output")
        classes = suggest.model_classes(model)
        form.field("thresholds", keys=classes, label="Per-class thresholds for a call column (optional)")
        attribute = form.field("attribute", help="ig: integrated-gradients attributions for every locus, "
                               "and coloured maps of the most confident loci.")
        if attribute == "none" and "ig_steps" in PredictConfig.model_fields:
            form.skip("ig_steps")
    with st.expander("More options"):
        form.rest(title=None)
    config = form.check()
    run_controls(STAGE, config, root)
    job_panel(STAGE, root, results=show_predict)
