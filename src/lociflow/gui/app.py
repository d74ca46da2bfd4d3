"""The lociflow web GUI (Streamlit): ``lociflow gui`` runs ``streamlit run`` on this file.

The home page names the tool and links every stage; each stage has its own page
(:mod:`lociflow.gui.screens`). The output root comes from ``--output-root`` after the
``--`` of ``streamlit run app.py -- --output-root DIR`` (or the environment variable
``LOCIFLOW_GUI_OUTPUT_ROOT``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

from lociflow import __version__
from lociflow.gui import settings
from lociflow.gui.screens import (
    evaluate,
    interpret,
    predict,
    preprocess,
    runs,
    scan,
    search,
    train,
    variants,
)
from lociflow.gui.worker import stage_available

STEPS = [
    ("preprocess", "Preprocess", ":material/dataset:", preprocess.render,
     "BED/FASTA files per class, a genome, optional conservation → an encoded, split dataset."),
    ("train", "Train", ":material/model_training:", train.render,
     "A dataset → a trained network (CNN, RNN or both), with live curves."),
    ("evaluate", "Evaluate", ":material/monitoring:", evaluate.render,
     "A model and held-out loci → ROC and precision-recall curves, metrics."),
    ("predict", "Predict", ":material/online_prediction:", predict.render,
     "A model and new loci → a probability per class for every locus."),
    ("interpret", "Interpret", ":material/lightbulb:", interpret.render,
     "A model → attribution maps, motifs and a dashboard of what it learned."),
    ("search", "Search", ":material/tune:", search.render,
     "A dataset → the best training parameters found by trying many."),
    ("variants", "Variants", ":material/genetics:", variants.render,
     "A model and a VCF → the effect of every variant on each class, attribution of both alleles."),
    ("scan", "Scan", ":material/query_stats:", scan.render,
     "A model and a genome → one bigWig track per class and the regions called above a threshold."),
]


def _read_arguments() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--output-root")
    known, _ = parser.parse_known_args(sys.argv[1:])
    if known.output_root:
        os.environ[settings.ENV_OUTPUT_ROOT] = str(Path(known.output_root).expanduser().resolve())


def home() -> None:
    """The home page: what lociflow does and a link to every stage, in order."""
    st.title("lociflow")
    st.markdown(
        f"**From genomic loci to a trained, evaluated and explained neural network.** "
        f"Version {__version__}.\n\n"
        "Work through the stages in order. Each one writes its own run folder in the output root "
        "(with `params.yaml`, which reproduces the run on the command line, and `run.log`) and "
        "adds a row to `runs.tsv`, exactly as the `lociflow` command does."
    )
    for number, (stage, title, icon, _, text) in enumerate(STEPS, start=1):
        if stage == "search" and not stage_available("search"):
            continue
        with st.container(border=True):
            left, right = st.columns([1, 3], vertical_alignment="center")
            left.page_link(_pages()[stage], label=f"{number}. {title}", icon=icon)
            right.markdown(text)
    st.page_link(_pages()["runs"], label="All runs: compare and open outputs", icon=":material/table_view:")
    st.caption(f"Output root: {settings.output_root()}")


_PAGES: dict[str, st.Page] = {}


def _pages() -> dict[str, st.Page]:
    if not _PAGES:
        _PAGES["home"] = st.Page(home, title="Home", icon=":material/home:", url_path="home", default=True)
        for stage, title, icon, render, _ in STEPS:
            if stage == "search" and not stage_available("search"):
                continue
            _PAGES[stage] = st.Page(render, title=title, icon=icon, url_path=stage)
        _PAGES["runs"] = st.Page(runs.render, title="Runs", icon=":material/table_view:", url_path="runs")
    return _PAGES


def main() -> None:
    """Set up the page, the navigation and the sidebar, and draw the chosen page."""
    _read_arguments()
    st.set_page_config(page_title="lociflow", page_icon="🧬", layout="wide")
    _PAGES.clear()
    navigation = st.navigation(list(_pages().values()))
    settings.sidebar()
    navigation.run()


main()
