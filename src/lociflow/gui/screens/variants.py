"""Variants page: a model, a VCF and the genome -> the effect of every variant on each class."""

from __future__ import annotations

import streamlit as st

from lociflow.config import VariantsConfig
from lociflow.gui import settings, suggest
from lociflow.gui.forms import Form, track_fields
from lociflow.gui.params import params_loader
from lociflow.gui.running import job_panel, run_controls
from lociflow.gui.views import show_variants

STAGE = "variants"


def render() -> None:
    """Draw the Variants page."""
    root = settings.output_root()
    st.title("Variants")
    st.markdown(
        "Score the variants of a VCF file with a trained model: for each variant the reference and the "
        "alternative allele are put at the centre of a window of the model's length and compared class by "
        "class. The result is `variants.tsv` (input order: `chrom pos id ref alt`, then per class "
        "`ref_<class> alt_<class> delta_<class> logodds_<class>`) and the top variants by effect; with "
        "attribution, a page of both alleles' maps. Same as `lociflow variants --config params.yaml`."
    )
    params_loader(STAGE, VariantsConfig, root)
    form = Form(STAGE, VariantsConfig, root / "uploads")
    with st.container(border=True):
        st.subheader("Model, variants and genome")
        model = form.field("model", required=True, label="Model folder", dir=True,
                           initial=suggest.initial(suggest.latest_run(root, "train")),
                           help="A model made by train. The newest one is suggested.")
        form.field("vcf", required=True, label="VCF file (plain, gzip or bgzip)", dir=False)
        form.field("genome", label="Reference genome (FASTA) the VCF refers to", dir=False,
                   help="Default: the genome the model was trained with, if it still exists.")
        track_fields(form, model)
    with st.container(border=True):
        st.subheader("Scoring")
        form.field("strand")
        form.field("genes", label="Genes BED with strands (optional): each variant on its gene's strand",
                   dir=False)
        form.field("ref_mismatch", label="REF allele differing from the genome")
        form.field("top", label="Top variants listed")
        attribute = form.field("attribute", label="Attribution maps of the top variants")
        if attribute == "none":
            form.skip("ig_steps")
    with st.expander("More options"):
        form.rest(title=None)
    config = form.check()
    run_controls(STAGE, config, root)
    job_panel(STAGE, root, results=show_variants)
