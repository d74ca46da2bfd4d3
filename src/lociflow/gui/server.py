"""The process behind ``lociflow gui``: the Streamlit server, stopped with its parent.

Kept apart from the pages (no Streamlit import here), since the command line starts it.
"""

from __future__ import annotations

import signal
import subprocess


def serve(command: list[str], env: dict[str, str], grace_s: float = 10.0) -> int:
    """Run the GUI server ``command`` until it ends or this process is told to stop.

    Ctrl-C, SIGTERM and SIGHUP stop the server too: a server left behind would keep the
    port and keep serving after ``lociflow gui`` has gone. Background runs started from
    the GUI live in their own sessions and go on.

    Parameters
    ----------
    command, env
        The server's command line and environment.
    grace_s
        Seconds the server has to stop before it is killed. Default is 10.

    Returns
    -------
    int
        The exit status for ``lociflow gui``: the server's own, or 0 when stopped.
    """
    def stop(signum, frame):
        raise KeyboardInterrupt

    process = subprocess.Popen(command, env=env)
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        code = process.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return code
