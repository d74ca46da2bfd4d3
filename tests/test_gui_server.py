"""Stopping ``lociflow gui`` stops its Streamlit server (gui/server.py): the port is free afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_lociflow_gui_stops_the_server_it_started(tmp_path, sig):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # its own session, so that the signal goes to lociflow gui alone (as from kill or a
    # process manager), and so that the test can clean up whatever is left
    process = subprocess.Popen(
        [sys.executable, "-c", "from lociflow.cli import app; app()", "gui", "--port", str(port),
         "--output-root", str(tmp_path / "runs")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env=dict(os.environ, LOCIFLOW_PROGRESS="0"))
    try:
        deadline = time.time() + 90
        while not _answers(url):
            assert process.poll() is None, "lociflow gui ended before serving"
            assert time.time() < deadline, "lociflow gui did not start serving"
            time.sleep(0.5)
        os.kill(process.pid, sig)  # the parent only, not its process group
        assert process.wait(timeout=30) == 0
        deadline = time.time() + 15
        while _answers(url) and time.time() < deadline:
            time.sleep(0.5)
        assert not _answers(url), "the Streamlit server kept serving after lociflow gui stopped"
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
