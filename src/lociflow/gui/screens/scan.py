"""Scan page: a model slid along a genome -> one bigWig track per class and the called regions."""

from __future__ import annotations

import streamlit as st

from lociflow.config import ScanConfig
from lociflow.gui import settings, suggest
from lociflow.gui.forms import Form, track_fields
from lociflow.gui.params import params_loader
from lociflow.gui.running import job_panel, run_controls
from lociflow.gui.views import show_scan

STAGE = "scan"


def render() -> None:
    """Draw the Scan page."""
    root = settings.output_root()
    st.title("Scan")
    st.markdown(
        "Slide a trained model along a genome (or the regions of a BED file) and write its score at every "
        "window's centre as one bigWig per class, ready for IGV or the UCSC browser, plus `called.bed`, "
        "the merged regions whose score reaches the threshold. Same as `lociflow scan --config params.yaml`."
    )
    params_loader(STAGE, ScanConfig, root)
    form = Form(STAGE, ScanConfig, root / "uploads")
    with st.container(border=True):
        st.subheader("Model and genome")
        model = form.field("model", required=True, label="Model folder", dir=True,
                           initial=suggest.initial(suggest.latest_run(root, "train")),
                           help="A model made by train. The newest one is suggested.")
        form.field("genome", label="Reference genome (FASTA)", dir=False,
                   help="Default: the genome the model was trained with, if it still exists.")
        form.field("regions", label="Regions to scan (BED, optional)", dir=False)
        form.field("chromosomes", label="Chromosomes to scan (optional)")
        track_fields(form, model)
    with st.container(border=True):
        st.subheader("Windows and scores")
        form.field("stride", label="Stride (nt; empty: a tenth of the window)")
        form.field("score")
        form.field("threshold", label="Threshold for called regions (empty: 0.5 for prob, 0 for logit)")
        form.field("strand")
    with st.expander("More options"):
        form.rest(title=None)
        resume = st.checkbox("Resume an interrupted scan of the name below", key="scan::#resume",
                             help="The CLI's --resume: finished chromosomes are kept, the rest is scanned.")
    config = form.check()
    run_controls(STAGE, config, root, options={"resume": True} if resume else None)
    job_panel(STAGE, root, results=show_scan)
