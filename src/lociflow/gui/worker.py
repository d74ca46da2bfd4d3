"""Run one stage for the GUI: ``python -m lociflow.gui.worker STAGE CONFIG.yaml OUTPUT NAME``.

The GUI starts this in a background process (see :mod:`lociflow.gui.jobs`). It calls
the stage's Python API with the config file, as ``lociflow STAGE --config CONFIG.yaml
--output OUTPUT --name NAME`` would, and writes ``result.json`` beside the config when
it ends, so the page can tell success, a user error, a bug and an interruption apart.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import sys
from pathlib import Path
from typing import Any

from lociflow.errors import Outcome, run_stage_call
from lociflow.io.atomic import write_json
from lociflow.layout import PARAMS_FILE, STAGES

log = logging.getLogger("lociflow.gui.worker")

def stage_available(stage: str) -> bool:
    """Whether this installation has the stage's API (pages of missing stages say so)."""
    import lociflow

    try:
        return importlib.util.find_spec(lociflow.STAGE_FUNCTIONS[stage][0]) is not None
    except (KeyError, ModuleNotFoundError):
        return False


def run_stage(stage: str, config: Path, output: Path, name: str, force: bool = False,
              options: dict[str, Any] | None = None) -> Path:
    """Call the stage's API function on the config file and return the run folder."""
    import lociflow

    function = getattr(lociflow, stage)
    return function(str(config), output, name=name, force=force, **(options or {}))


def _console_logging() -> None:
    # the same messages the CLI shows on its terminal; run.log keeps the DEBUG detail
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger("lociflow")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the stage, write ``result.json``; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m lociflow.gui.worker", description=__doc__)
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("config", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("name")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--options", default="{}", help="JSON object of stage-specific API arguments.")
    args = parser.parse_args(argv)
    _console_logging()
    outcome = Outcome("failed", 1, message="The worker stopped before the stage ended.")
    try:
        outcome = run_stage_call(
            lambda: run_stage(args.stage, args.config, args.output, args.name, args.force, json.loads(args.options)))
        # the folder last, as the CLI prints it (the job log holds the console messages)
        if outcome.status == "ok":
            log.info("%s", outcome.folder)
        else:
            log.error("%s", outcome.console)
    finally:
        root = args.output.expanduser().resolve()
        kept, failed = root / args.name, root / f"{args.name}.failed"
        folder = outcome.folder
        if outcome.status == "stopped" and (kept / PARAMS_FILE).exists():
            folder = kept  # training keeps its best model when interrupted
        elif outcome.status != "ok" and failed.is_dir():
            folder = failed
        write_json(args.config.parent / "result.json",
                   {"status": outcome.status, "folder": str(folder) if folder else None, "message": outcome.message})
    return outcome.code


if __name__ == "__main__":  # pragma: no cover - run as a process by the GUI
    sys.exit(main())
