"""Preprocess page: loci files per class (plus genome, conservation) -> a split dataset."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lociflow.config import PreprocessConfig
from lociflow.gui import settings, state
from lociflow.gui.forms import Form, genome_field
from lociflow.gui.params import params_loader
from lociflow.gui.running import job_panel, run_controls
from lociflow.gui.views import show_preprocess
from lociflow.layout import BUILTIN_BRANCHES, SPLITS

STAGE = "preprocess"
MODE_KEY = "preprocess::#mode"
MODES = ("New loci files", "An existing dataset (re-balance or re-split)")
FASTA_ENDINGS = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")
# Everything that maps loci onto the genome; a re-split of an existing dataset skips it.
MAPPING = ("classes", "genome", "conservation", "tracks", "branches", "window", "alphabet", "strand",
           "placement", "edge", "viewpoint", "missing", "fold", "workers", "cache_dir")


def _after_load(values: dict[str, Any]) -> None:
    state.put(MODE_KEY, MODES[1] if values.get("source") else MODES[0])


def render() -> None:
    """Draw the Preprocess page."""
    root = settings.output_root()
    st.title("Preprocess")
    st.markdown(
        "Turn loci into a dataset for training: one or more **BED/narrowPeak or FASTA** files per "
        "class, cut into windows of equal length, encoded per input branch (sequence, RNA structure, "
        "conservation, other tracks), balanced and split into train/valid/test. "
        "Same as `lociflow preprocess --config params.yaml`."
    )
    params_loader(STAGE, PreprocessConfig, root, after=_after_load)
    form = Form(STAGE, PreprocessConfig, root / "uploads")
    state.init(MODE_KEY, MODES[0])
    mode = st.radio("Start from", MODES, key=MODE_KEY, horizontal=True)
    state.keep(MODE_KEY)
    if mode == MODES[1]:
        _from_dataset(form)
    else:
        _from_files(form)
    _balance_and_split(form)
    with st.expander("More options"):
        form.rest(title=None)
    config = form.check()
    run_controls(STAGE, config, root)
    job_panel(STAGE, root, results=show_preprocess)


def _from_dataset(form: Form) -> None:
    for name in MAPPING:
        form.skip(name)
    with st.container(border=True):
        form.field("source", label="Dataset folder", dir=True,
                   help="A dataset made by preprocess; its loci are balanced and split again "
                   "without mapping or folding (the CLI's --from).")


def _from_files(form: Form) -> None:
    form.skip("source")
    with st.container(border=True):
        st.subheader("Loci")
        classes = form.field("classes", label="Classes and their files")
        files = [f.lower() for group in classes.values() for f in group]
        fasta = [f for f in files if f.endswith(FASTA_ENDINGS)]
        if genome_field(form, form.typed_files.get(("classes",), []), label="Reference genome (FASTA)",
                        help="Needed for BED input: windows are cut from it. Plain or bgzip FASTA."):
            form.field("edge")
        else:
            form.skip("edge")
        if fasta:
            form.field("viewpoint")
        else:
            form.skip("viewpoint")
    with st.container(border=True):
        st.subheader("Inputs of the network")
        conservation = form.field("conservation", label="Conservation track (bigWig, wig or bedGraph)", dir=False)
        tracks = form.field("tracks", label="Further tracks (one branch each)")
        options = [*BUILTIN_BRANCHES, *[t for t in tracks if t not in BUILTIN_BRANCHES]]
        branches = form.field("branches", kind="multi", options=options,
                              help="seq: the sequence one-hot; fold: RNA secondary structure (ViennaRNA); "
                              "cons: the conservation track; and any named track.")
        if conservation or tracks:
            form.field("missing")
        else:
            form.skip("missing")
        if "fold" in branches:
            with st.expander("Structure (fold) options", expanded=True):
                form.field("fold")
        else:
            form.skip("fold")
    with st.container(border=True):
        st.subheader("Windows")
        left, right = st.columns(2)
        with left:
            form.field("window", label="Window (nt)")
            form.field("alphabet")
        with right:
            form.field("placement")
            form.field("strand", label="Reverse-complement minus-strand loci")


def _balance_and_split(form: Form) -> None:
    with st.container(border=True):
        st.subheader("Balance and split")
        classes = list(form.value("classes") or {}) if "classes" not in form.skipped else []
        form.field("balance")
        if "classes" in form.skipped:  # class names come from the dataset: typed as YAML
            form.field("reduce", help="Per class: a ratio (<= 1) or a count (> 1), e.g. {unbound: 0.5}.")
        elif classes:
            form.field("reduce", keys=classes, label="Reduce classes (a ratio ≤ 1 or a count > 1; empty: keep all)")
        else:
            form.skip("reduce")
        method = form.field("split", "method", label="Split method",
                            help="random: shuffled with the seed, stratified by class; "
                            "chromosome: whole chromosomes per split.")
        if method == "random":
            form.field("split", "ratios", keys=list(SPLITS), label="Split ratios")
            for name in SPLITS:
                form.skip("split", name)
        else:
            form.skip("split", "ratios")
            columns = st.columns(len(SPLITS))
            for column, name in zip(columns, SPLITS):
                with column:
                    form.field("split", name, label=f"{name} chromosomes", placeholder="e.g. chr1, chr2")
        form.anchor("split")
        form.field("seed")
