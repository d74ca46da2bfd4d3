"""Preprocess page: loci files per class (plus genome, conservation) -> a split dataset."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lociflow.config import PreprocessConfig
from lociflow.gui import paths, settings, state
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
        "class (or a table, or labelled FASTA; negatives can be made for you), cut into windows of equal length, encoded per input branch (sequence, RNA structure, "
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
        made_class(form, classes)
        files = [f.lower() for group in classes.values() if isinstance(group, list) for f in group]
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
        form.field("table", label="a table of sequences and labels (CSV/TSV, e.g. DeepBind .seq or GUE CSV)",
                   help="Each row a sequence and its label; name the columns (or give their numbers from 1). "
                   "Labels are the class names unless names maps them.")
        form.field("labelled", label="labelled FASTA (the class in each header, e.g. RBP-31's class:1)",
                   help="One or more FASTA files whose headers carry the class; pattern's first group is the label.")
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


MADE_KINDS = {
    "genome": "from the genome, matched to the class's GC content (harder, closer to biology)",
    "shuffle": "k-mer-preserving shuffles of the class's windows (as DeepBind; a model can win on composition)",
    "flanks": "windows beside each locus, at a distance",
}


def made_class(form: Form, classes: dict[str, Any]) -> None:
    """A class of negatives made from another class (``from: genome | shuffle | flanks``), added to ``classes``."""
    key = form.key(("classes",)) + "#made"
    state.init(f"{key}.on", False)
    on = st.checkbox("Add a class of negatives made for you (no negative files needed)", key=f"{key}.on",
                     help="Most peak sets come without negatives: draw them from the genome, shuffle the "
                     "positives, or take the flanks of each peak. See docs/preprocess.md for which to choose.")
    state.keep(f"{key}.on")
    if not on:
        return
    names = [n for n, files in classes.items() if isinstance(files, list)]
    left, middle, right = st.columns(3)
    with left:
        state.init(f"{key}.name", "background")
        st.text_input("Name of the made class", key=f"{key}.name")
        state.keep(f"{key}.name")
    with middle:
        state.init(f"{key}.from", "genome")
        kind = st.selectbox("Made how", list(MADE_KINDS), key=f"{key}.from", format_func=lambda k: k,
                            help="; ".join(f"{k}: {v}" for k, v in MADE_KINDS.items()))
        state.keep(f"{key}.from")
    with right:
        if names:
            state.init(f"{key}.like", names[0])
            if st.session_state[f"{key}.like"] not in names:
                st.session_state[f"{key}.like"] = names[0]
            like = st.selectbox("From (or matched to) the class", names, key=f"{key}.like")
            state.keep(f"{key}.like")
        else:
            like = None
            st.caption("Name a class with files first.")
    st.caption(MADE_KINDS[kind])
    spec: dict[str, Any] = {"from": kind, "like": like}
    columns = st.columns(3)
    with columns[0]:
        state.init(f"{key}.ratio", 1.0)
        spec["ratio"] = st.number_input("Ratio (made loci per locus of that class)", min_value=0.01, step=0.5,
                                        key=f"{key}.ratio")
        state.keep(f"{key}.ratio")
    with columns[1]:
        if kind == "shuffle":
            state.init(f"{key}.kmer", 2)
            spec["kmer"] = st.number_input("k-mer kept (2: dinucleotides)", min_value=1, max_value=4, step=1,
                                           key=f"{key}.kmer")
            state.keep(f"{key}.kmer")
        elif kind == "flanks":
            state.init(f"{key}.distance", 1000)
            spec["distance"] = st.number_input("Distance from the locus (nt)", min_value=0, step=100,
                                               key=f"{key}.distance")
            state.keep(f"{key}.distance")
        else:
            state.init(f"{key}.match", ["gc"])
            spec["match"] = st.multiselect("Match the distribution of", ["gc", "repeats", "n"], key=f"{key}.match",
                                           help="gc: G+C fraction; repeats: soft-masked (lowercase) fraction; "
                                           "n: fraction of N.")
            state.keep(f"{key}.match")
    if kind != "shuffle":
        with columns[2]:
            state.init(f"{key}.margin", 0)
            spec["margin"] = st.number_input("Margin kept free around every locus (nt)", min_value=0, step=100,
                                             key=f"{key}.margin")
            state.keep(f"{key}.margin")
        excluded = paths.path_field(f"{key}.exclude", "Excluded regions (BED files, e.g. the ENCODE blacklist)", None,
                                    form.upload_dir, multiple=True, placeholder="BED files, one per line")
        for message in paths.missing_paths(excluded, False):
            form.problem(("classes",), message)
        spec["exclude"] = excluded
    name = st.session_state[f"{key}.name"].strip()
    if not name:
        form.problem(("classes",), "the made class needs a name")
    elif name in classes:
        form.problem(("classes",), f"the made class's name {name!r} is already a class with files: choose another")
    elif like is None:
        form.problem(("classes",), "the made class needs a class with files to be made from")
    else:
        form.put(("classes",), {**classes, name: spec})


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
