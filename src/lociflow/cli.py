"""The ``lociflow`` command line: a thin shell over the Python API.

Every command loads its stage section from ``--config`` (if given), applies named flags
and ``--set key=value`` overrides, calls the API, and prints the run folder as the last
line of standard output. A user error prints one readable message and exits with 2;
anything else is a bug and prints a traceback plus the path of the run log.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from lociflow import __version__
from lociflow.errors import LociflowError

app = typer.Typer(
    name="lociflow",
    help=(
        "From genomic loci to a trained, evaluated and explained neural network.\n\n"
        "Typical order: preprocess (BED/FASTA per class -> dataset), train (dataset -> model), "
        "evaluate and predict (model -> metrics, probabilities), interpret (model -> dashboard). "
        "Every command writes its own run folder with params.yaml, run.log and a row in runs.tsv."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Options shared by every stage command.
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML config; the command reads its own section.")]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Output root; the run folder is created inside it.")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="Run folder name (default: stage, time and a random suffix).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing run folder of the same name.")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", metavar="KEY=VALUE", help="Override a config value: --set window=200 (repeatable, dotted keys).")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Random seed (overrides the config).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lociflow {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show DEBUG messages on the terminal.")] = False,
) -> None:
    """lociflow: loci in, explained models out."""
    _console_logging(logging.DEBUG if verbose else logging.INFO)


def _console_logging(level: int) -> None:
    logger = logging.getLogger("lociflow")
    logger.setLevel(logging.DEBUG)
    if not any(getattr(h, "_lociflow_console", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler._lociflow_console = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    for handler in logger.handlers:
        if getattr(handler, "_lociflow_console", False):
            handler.setLevel(level)


def run_command(call: Callable[[], Path]) -> None:
    """Run a stage, print its folder last, and turn errors into readable messages."""
    try:
        folder = call()
    except LociflowError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        raise typer.Exit(code=130) from None
    except Exception as exc:  # a bug: show everything we know
        traceback.print_exc()
        log_path = getattr(exc, "lociflow_run_log", None)
        where = f" The run log is {log_path}." if log_path else ""
        typer.echo(f"Unexpected error: {exc!r}.{where}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(str(folder))


@app.command(no_args_is_help=True)
def preprocess(
    config: ConfigOpt = None,
    output: OutputOpt = Path("lociflow_runs"),
    name: NameOpt = None,
    force: ForceOpt = False,
    set_: SetOpt = None,
    seed: SeedOpt = None,
    source: Annotated[Optional[Path], typer.Option("--from", help="Re-balance/re-split this existing dataset instead of mapping again.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Processes for RNA folding.")] = None,
) -> None:
    """Turn BED/FASTA files (one or more per class) into an encoded, split dataset.

    The config's `preprocess:` section names the classes and their files, the genome,
    optional conservation, the branches (seq, fold, cons), the window and the split.
    See docs/preprocess.md for a worked example.
    """
    from lociflow.config import PreprocessConfig, load_stage

    def call() -> Path:
        cfg = load_stage(PreprocessConfig, "preprocess", config, set_,
                         {"seed": seed, "source": source, "workers": workers})
        from lociflow.preprocess.pipeline import preprocess as run

        return run(cfg, output, name=name, force=force)

    run_command(call)


def entry() -> None:  # pragma: no cover - console script
    app()
