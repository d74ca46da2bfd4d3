"""Runs killed outright (SIGKILL) at random moments: a rerun succeeds, gives the same bytes, leaves no debris."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import lociflow

SRC = str(Path(lociflow.__file__).parents[1])
HITS, TRIES = 2, 6  # per stage: kills that catch a run at work, and the bound on attempts
# timestamps and durations; a Lightning checkpoint records the path of the (randomly named)
# temporary folder it was written in, so checkpoints are compared by their tensors instead
VARIES = {"run.log", "history.tsv", "runs.tsv"}


def command(*args) -> list[str]:
    return [sys.executable, "-c", "from lociflow.cli import app; app()", *map(str, args)]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}


def run(args: list, timeout: float = 300) -> float:
    started = time.perf_counter()
    done = subprocess.run(command(*args), capture_output=True, text=True, env=environment(), timeout=timeout,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return time.perf_counter() - started


def killed(args: list, root: Path, work_seconds: float, rng: np.random.Generator) -> None:
    """Start the command, and SIGKILL it at a random moment once its run folder exists."""
    process = subprocess.Popen(command(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment())
    deadline = time.monotonic() + 120
    while process.poll() is None and not list(root.glob(".*.tmp-*")) and time.monotonic() < deadline:
        time.sleep(0.005)
    try:
        process.wait(timeout=float(rng.uniform(0.0, work_seconds)))
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): _bytes(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in VARIES and "tensorboard" not in p.parts}


def _bytes(path: Path) -> bytes:
    if path.suffix != ".ckpt":
        return path.read_bytes()
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    return b"".join(key.encode() + state[key].numpy().tobytes() for key in sorted(state))


def assert_no_debris(root: Path) -> None:
    hidden = [p.name for p in root.iterdir() if p.name.startswith(".")]
    assert not hidden, f"debris left in {root}: {hidden}"


def fasta_config(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    for name in ("pos", "neg"):
        records = "".join(f">{name}{i}\n{''.join(rng.choice(list('ACGT'), 60))}\n" for i in range(1000))
        (folder / f"{name}.fa").write_text(records)
    config = folder / "c.yaml"
    config.write_text(yaml.safe_dump({"preprocess": {"classes": {"pos": ["pos.fa"], "neg": ["neg.fa"]},
                                                     "window": 50, "seed": 2}}))
    return config


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_preprocess_and_train_killed_at_random_moments_rerun_to_identical_output(tmp_path):
    config = fasta_config(tmp_path)
    reference = tmp_path / "reference"
    seconds = run(["preprocess", "-c", config, "-o", reference, "--name", "data"])
    train_args = ["--data", reference / "data", "--epochs", 2, "--set", "threads=1", "--set", "batch_size=64",
                  "--seed", 1]
    train_seconds = run(["train", *train_args, "-o", reference, "--name", "model"])
    expected_data, expected_model = contents(reference / "data"), contents(reference / "model")
    rng = np.random.default_rng(13)
    for stage, duration, args, name, expected in (
            ("preprocess", seconds, ["-c", config], "data", expected_data),
            ("train", train_seconds, train_args, "model", expected_model)):
        root = tmp_path / stage
        debris_seen = 0
        for _ in range(TRIES):
            if debris_seen == HITS:
                break
            # most of a short run is starting Python: the kill falls in the part spent at work
            killed([stage, *args, "-o", root, "--name", name], root, 0.3 * duration, rng)
            if (root / name).exists():  # the kill came after the run finished: start over
                shutil.rmtree(root / name)
                continue
            debris_seen += bool(list(root.glob(".*.tmp-*")))
            run([stage, *args, "-o", root, "--name", name])
            assert_no_debris(root)
            found = contents(root / name)
            assert found.keys() == expected.keys()
            changed = [key for key in expected if found[key] != expected[key]]
            assert not changed, f"{stage}: rerun after a kill differs in {changed}"
            shutil.rmtree(root / name)
        assert debris_seen, f"no kill of {stage} hit a run at work; the test exercised nothing"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_runs_started_with_one_name_exactly_one_succeeds(tmp_path):
    config = fasta_config(tmp_path)
    args = command("preprocess", "-c", config, "-o", tmp_path / "runs", "--name", "same")
    processes = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
                 for _ in range(2)]
    results = [(p.wait(timeout=240), p.stdout.read(), p.stderr.read()) for p in processes]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, _, err in results if code == 2)
    assert "already exists" in loser
    assert (tmp_path / "runs" / "same" / "manifest.json").exists()
    assert_no_debris(tmp_path / "runs")
