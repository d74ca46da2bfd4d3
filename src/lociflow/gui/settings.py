"""Where the GUI writes: the output root, shared by every page of one browser session."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

ENV_OUTPUT_ROOT = "LOCIFLOW_GUI_OUTPUT_ROOT"
DEFAULT_OUTPUT_ROOT = "lociflow_runs"


def default_output_root() -> Path:
    """The output root given to ``lociflow gui --output-root`` (or ``./lociflow_runs``)."""
    return Path(os.environ.get(ENV_OUTPUT_ROOT) or DEFAULT_OUTPUT_ROOT).expanduser().resolve()


def output_root() -> Path:
    """The output root of this browser session: run folders and ``runs.tsv`` live here.

    A user may point one session at another root from the sidebar; the default is the
    root the server was started with.
    """
    chosen = st.session_state.get("output_root")
    return Path(chosen).expanduser().resolve() if chosen else default_output_root()


def sidebar() -> Path:
    """Show the output root in the sidebar (editable for this session) and return it."""
    if "output_root" not in st.session_state:
        st.session_state["output_root"] = str(default_output_root())
    with st.sidebar:
        st.text_input(
            "Output root", key="output_root",
            help="Every run creates its folder here and adds a row to runs.tsv in it "
            "(the CLI's --output).",
        )
    return output_root()
