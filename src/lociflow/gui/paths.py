"""Path fields: typed, picked from the server's folders, or uploaded (small files).

The GUI runs on the machine that holds the data, so most paths are typed or picked
from the server's folders. Small files can be uploaded from the browser instead; they
are saved into ``<output root>/uploads/`` and the field is filled with the saved path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from lociflow.gui import state
from lociflow.io.atomic import atomic_open


def path_field(key: str, label: str, help: str | None, upload_dir: Path, *, multiple: bool = False,
               placeholder: str = "", initial: str | None = None) -> list[str]:
    """A text field for one path (or several, one per line) with a "Pick or upload" button.

    ``initial`` fills the field the first time it is drawn (e.g. the latest dataset).
    Returns the entered paths as stripped strings (empty entries dropped).
    """
    state.init(key, initial or "")
    text_col, pick_col = st.columns([5, 1], vertical_alignment="bottom")
    with text_col:
        if multiple:
            st.text_area(label, key=key, help=help, height=80,
                         placeholder=placeholder or "one path per line")
        else:
            st.text_input(label, key=key, help=help, placeholder=placeholder)
    state.keep(key)
    with pick_col:
        with st.popover("Pick…", help="Pick a path on the server, or upload a small file."):
            _picker(key, upload_dir, multiple)
    return [line.strip() for line in str(st.session_state[key]).splitlines() if line.strip()]


def missing_paths(values: list[str], want_dir: bool | None = None) -> list[str]:
    """Messages for entries that do not exist (or are not a folder / a file when asked)."""
    messages = []
    for value in values:
        path = Path(value).expanduser()
        shown = value if path.is_absolute() else f"{value} (relative to {Path.cwd()})"
        if not path.exists():
            messages.append(f"{shown} does not exist")
        elif want_dir is True and not path.is_dir():
            messages.append(f"{shown} is a file, but a folder is needed here")
        elif want_dir is False and path.is_dir():
            messages.append(f"{shown} is a folder, but a file is needed here")
    return messages


def _picker(key: str, upload_dir: Path, multiple: bool) -> None:
    server, upload = st.tabs(["On the server", "Upload"])
    with server:
        _browser(key, multiple)
    with upload:
        st.file_uploader(
            "Upload (small files)", key=f"{key}#upload", accept_multiple_files=multiple,
            on_change=_save_upload, args=(key, upload_dir, multiple),
            help=f"Saved into {upload_dir}",
        )


def _browser(key: str, multiple: bool) -> None:
    """Browse the server: type or paste any path (a folder is listed, a file can be used
    at once), or pick entries; picking a folder opens it, so no extra click per level."""
    folder_key, pick_key = f"{key}#folder", f"{key}#entry"
    current = [line.strip() for line in str(st.session_state.get(key, "")).splitlines() if line.strip()]
    start = Path(current[-1]).expanduser().parent if current else Path.cwd()
    state.init(folder_key, str(start if start.is_dir() else Path.cwd()))
    st.text_input("Folder or file", key=folder_key,
                  help="Type or paste a path (~ for your home folder): a folder is listed below, "
                  "a file can be used at once.")
    typed = Path(str(st.session_state[folder_key]).strip() or ".").expanduser()
    if typed.is_file():  # a pasted file path: use it, or browse its folder
        st.button(f"Use {typed.name}", key=f"{key}#use-typed", type="primary",
                  on_click=_use, args=(key, str(typed.resolve()), multiple))
        folder = typed.parent
    else:
        folder = typed
    entries = _entries(folder)
    if not entries:
        st.caption(f"{folder} does not exist or cannot be read." if not folder.is_dir()
                   else "This folder cannot be read.")
        return
    choice = st.selectbox(f"In {folder.resolve()}", entries, key=pick_key, index=None,
                          placeholder="pick a file, or a folder to open it", on_change=_open_picked,
                          args=(folder_key, pick_key, folder), help="Picking a folder opens it; ../ goes up.")
    if choice is None:
        target = folder.resolve()
    else:
        target = (folder / choice.rstrip("/")).resolve() if choice != "../" else folder.resolve().parent
    right = st.columns(2)[1]
    right.button("Use this path" if choice else "Use this folder", key=f"{key}#use", type="primary",
                 on_click=_use, args=(key, str(target), multiple))


def _open_picked(folder_key: str, pick_key: str, folder: Path) -> None:
    """When a folder (or ../) is picked, list it at once."""
    choice = st.session_state.get(pick_key)
    if not choice or not choice.endswith("/"):
        return
    target = folder.resolve().parent if choice == "../" else (folder / choice.rstrip("/")).resolve()
    state.put(folder_key, str(target))
    del st.session_state[pick_key]


def _entries(folder: Path) -> list[str]:
    try:
        children = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:
        return []
    dirs = [f"{p.name}/" for p in children if p.is_dir()]
    files = [p.name for p in children if not p.is_dir()]
    return ["../", *dirs, *files]


def _use(key: str, path: str, multiple: bool) -> None:
    if multiple:
        lines = [line for line in str(st.session_state.get(key, "")).splitlines() if line.strip()]
        if path not in lines:
            lines.append(path)
        state.put(key, "\n".join(lines))
    else:
        state.put(key, path)


def _save_upload(key: str, upload_dir: Path, multiple: bool) -> None:
    uploaded = st.session_state.get(f"{key}#upload")
    files = uploaded if isinstance(uploaded, list) else [uploaded] if uploaded else []
    for item in files:
        _use(key, str(save_upload(upload_dir, item.name, item.getvalue())), multiple)


def save_upload(upload_dir: Path, name: str, content: bytes) -> Path:
    """Save uploaded ``content`` as ``upload_dir/name``; a different file of that name is
    kept, and the new one gets a short content hash in its name."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    name = Path(name).name or "upload"
    target = upload_dir / name
    if target.exists() and target.read_bytes() != content:
        digest = hashlib.sha256(content).hexdigest()[:8]
        stem, dot, suffix = name.partition(".")
        target = upload_dir / f"{stem}-{digest}{dot}{suffix}"
    if not target.exists():
        with atomic_open(target, "wb") as handle:
            handle.write(content)
    return target
