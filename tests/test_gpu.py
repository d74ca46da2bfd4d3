"""Every path that differs on a CUDA GPU: mixed precision, DDP, device placement of every
stage, cuDNN off for recurrent attribution, and GPU-trained models used on the CPU.

These tests run with ``pytest -m gpu`` on a machine with a GPU and are skipped (saying why)
everywhere else, so CI on CPU-only machines stays green. Each uses tiny planted-motif data,
so the whole file takes about a minute on a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import lociflow
from lociflow.layout import METRICS_FILE, PREDICTIONS_FILE

pytestmark = pytest.mark.gpu

WINDOW = 50
RECURRENT = {"branches": {"seq": [{"type": "conv", "filters": 16, "kernel": 8, "pool": "max"},
                                  {"type": "gru", "units": 16}]}, "common": []}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from synthetic import write_dataset

    return write_dataset(tmp_path_factory.mktemp("gpu") / "data", n=600, window=WINDOW, alphabet="dna")


def _train(data: Path, root: Path, **options) -> Path:
    config = {"data": str(data), "preset": "cnn", "epochs": 3, "batch_size": 64, "accelerator": "gpu",
              "devices": 1, "early_stopping": None, **options}
    return lociflow.train(config, root)


def _test_auroc(folder: Path) -> float:
    return json.loads((folder / METRICS_FILE).read_text())["auroc"]["macro"]


@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_mixed_precision_training_learns_and_saves_float32_weights(data, tmp_path, precision):
    if precision == "bf16-mixed" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    folder = _train(data, tmp_path, precision=precision)
    assert _test_auroc(folder) > 0.8
    model = lociflow.load_model(folder, device="cuda")
    assert all(p.dtype == torch.float32 for p in model.network.parameters())


def test_ddp_on_one_device_trains(data, tmp_path):
    folder = _train(data, tmp_path, strategy="ddp")
    assert _test_auroc(folder) > 0.8


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_ddp_on_two_devices_trains(data, tmp_path):
    folder = _train(data, tmp_path, strategy="ddp", devices=2)
    assert _test_auroc(folder) > 0.8


@pytest.fixture(scope="module")
def gpu_model(data, tmp_path_factory):
    return _train(data, tmp_path_factory.mktemp("gpu-model"))


def test_a_gpu_trained_model_predicts_the_same_on_the_cpu(gpu_model, data):
    inputs = {"seq": np.asarray(lociflow.open_dataset(data).split("test").inputs["seq"])}
    on_gpu = lociflow.load_model(gpu_model, device="cuda").predict_proba(inputs)
    on_cpu = lociflow.load_model(gpu_model, device="cpu").predict_proba(inputs)
    np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-4)


def test_evaluate_predict_and_interpret_run_on_cuda(gpu_model, data, tmp_path):
    evaluated = lociflow.evaluate({"model": str(gpu_model), "data": str(data), "device": "cuda"}, tmp_path)
    assert json.loads((evaluated / METRICS_FILE).read_text())["auroc"]["macro"] > 0.8
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\n" + "ACGT" * 20 + "\n>b\n" + "TGTAAATA" * 10 + "\n")
    predicted = lociflow.predict({"model": str(gpu_model), "input": [str(fasta)], "device": "cuda",
                                  "attribute": "ig"}, tmp_path)
    assert (predicted / PREDICTIONS_FILE).read_text().count("\n") == 3
    interpreted = lociflow.interpret({"model": str(gpu_model), "data": str(data), "device": "cuda",
                                      "methods": ["saliency", "ig", "deepshap", "ism"], "top": 3,
                                      "max_loci": 50}, tmp_path)
    assert (interpreted / "index.html").exists()


def test_search_runs_its_trials_on_cuda(data, tmp_path):
    folder = lociflow.search({"search": {"trials": 2, "space": {"learning_rate": {"type": "float", "low": 1e-4,
                                                                                   "high": 1e-2, "log": True}}},
                              "train": {"data": str(data), "epochs": 2, "accelerator": "gpu", "devices": 1}},
                             tmp_path)
    assert (folder / "best").is_dir()


def test_recurrent_attribution_turns_cudnn_off_only_while_it_runs(data, tmp_path):
    from lociflow.interpretation.attribution import deep_lift_shap, integrated_gradients

    folder = _train(data, tmp_path, preset=None, architecture=RECURRENT, epochs=2)
    model = lociflow.load_model(folder, device="cuda")
    inputs = {"seq": np.asarray(lociflow.open_dataset(data).split("test").inputs["seq"][:16], np.float32)}
    assert torch.backends.cudnn.enabled
    ig = integrated_gradients(model.network, inputs, 0, steps=8, device="cuda", verbose=False)
    shap = deep_lift_shap(model.network, inputs, 0, n_shuffles=2, device="cuda", verbose=False)
    assert torch.backends.cudnn.enabled  # restored: training and inference keep cuDNN
    assert np.isfinite(ig.attributions["seq"]).all() and np.isfinite(shap.attributions["seq"]).all()
