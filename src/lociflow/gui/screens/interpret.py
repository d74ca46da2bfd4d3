"""Interpret page: a model -> attributions, motifs and the dashboard of what it learned."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lociflow import config as _config
from lociflow.config import InterpretConfig
from lociflow.gui import settings, state, suggest
from lociflow.gui.forms import Form, genome_field
from lociflow.gui.params import params_loader
from lociflow.gui.running import job_panel, run_controls
from lociflow.gui.views import show_interpret

STAGE = "interpret"
MODE_KEY = "interpret::#mode"
MODES = ("A split of a dataset", "Loci files")
FILE_FIELDS = ("input", "genome", "conservation", "tracks")
METHODS = {
    "saliency": "gradient (and gradient × input) of the class score",
    "ig": "integrated gradients over all branches",
    "deepshap": "DeepLIFT/DeepSHAP with shuffled references",
    "ism": "in-silico mutagenesis: every single-base change",
    "temporal": "class score along growing prefixes/suffixes (recurrent models)",
    "optimize": "the sequence that maximises each class score",
    "filters": "first-layer filters as motifs, matched to JASPAR",
    "modisco": "TF-MoDISco motifs from attributions, matched to JASPAR",
    "gia": "global importance analysis of motifs",
    "all": "every method the model supports",
}

# the methods this version knows (a method added to the config appears with its name)
ALLOWED = [*getattr(_config, "INTERPRET_METHODS", METHODS), "all"]
METHODS.update({m: m for m in ALLOWED if m not in METHODS})


def _after_load(values: dict[str, Any]) -> None:
    state.put(MODE_KEY, MODES[1] if values.get("input") else MODES[0])


def render() -> None:
    """Draw the Interpret page."""
    root = settings.output_root()
    st.title("Interpret")
    st.markdown(
        "See why a model predicts what it does: attribution maps of the most confident loci per class, "
        "mutagenesis, motifs from filters and TF-MoDISco matched to JASPAR, global importance analysis. "
        "Everything is gathered in one dashboard (`index.html`). "
        "Same as `lociflow interpret --config params.yaml`."
    )
    params_loader(STAGE, InterpretConfig, root, after=_after_load)
    form = Form(STAGE, InterpretConfig, root / "uploads")
    with st.container(border=True):
        st.subheader("Model and loci")
        model = form.field("model", required=True, label="Model folder", dir=True,
                           initial=suggest.initial(suggest.latest_run(root, "train")),
                           help="A model made by train. The newest one is suggested.")
        state.init(MODE_KEY, MODES[0])
        mode = st.radio("Loci to explain", MODES, key=MODE_KEY, horizontal=True)
        state.keep(MODE_KEY)
        if mode == MODES[0]:
            for name in FILE_FIELDS:
                form.skip(name)
            form.field("data", required=True, label="Dataset folder", dir=True, initial=suggest.dataset_of(model))
            form.field("split")
        else:
            form.skip("data")
            form.skip("split")
            files = form.field("input", required=True, label="Input files", dir=False)
            genome_field(form, files)
            form.field("conservation", label="Conservation track (bigWig)", dir=False)
            form.field("tracks", label="Further tracks the model reads")
    with st.container(border=True):
        st.subheader("Methods")
        form.field("methods", kind="multi", options=[m for m in METHODS if m in ALLOWED],
                   help="; ".join(f"{name}: {text}" for name, text in METHODS.items() if name in ALLOWED))
        left, right = st.columns(2)
        with left:
            form.field("top", label="Loci shown per class")
        with right:
            form.field("max_loci")
        form.field("options", label="Options per method", height=100)
    methods = set(form.value("methods") or [])
    motif_fields = [n for n in ("motifs", "motif_db", "jaspar_release", "jaspar_collection", "jaspar_taxon")
                    if n in InterpretConfig.model_fields]
    if methods & {"filters", "modisco", "gia", "all"}:
        with st.expander("Motif matching and global importance analysis"):
            for name in motif_fields:
                form.field(name, **({"dir": False} if name == "motif_db" else {}))
    else:
        for name in motif_fields:
            form.skip(name)
    with st.expander("More options"):
        form.rest(title=None)
    config = form.check()
    run_controls(STAGE, config, root)
    job_panel(STAGE, root, results=show_interpret)
