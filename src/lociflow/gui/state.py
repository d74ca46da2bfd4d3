"""Widget state that survives page changes and can be filled from a params.yaml.

Streamlit forgets a widget's value when its page is left. Every form widget here is
created from ``st.session_state`` (never from a ``value=`` argument) and its value is
mirrored under a second key that Streamlit does not clean up, so a form comes back as
the user left it, and "Load parameters" can fill widgets before they are drawn.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

_KEEP = "_keep::"


def init(key: str, default: Any) -> None:
    """Give widget ``key`` its remembered value, or ``default`` the first time."""
    state = st.session_state
    if key not in state:
        state[key] = state.get(_KEEP + key, default)


def keep(key: str) -> None:
    """Remember the current value of widget ``key`` across page changes."""
    if key in st.session_state:
        st.session_state[_KEEP + key] = st.session_state[key]


def get(key: str, default: Any = None) -> Any:
    """The value of ``key``, or its remembered value, or ``default``."""
    state = st.session_state
    if key in state:
        return state[key]
    return state.get(_KEEP + key, default)


def put(key: str, value: Any) -> None:
    """Set widget ``key`` (call from a callback or before the widget is drawn)."""
    st.session_state[key] = value
    st.session_state[_KEEP + key] = value


def forget(prefix: str) -> None:
    """Drop every remembered value whose key starts with ``prefix``."""
    state = st.session_state
    for key in list(state.keys()):
        if key.startswith(prefix) or key.startswith(_KEEP + prefix):
            del state[key]
