"""A tiny trained model for evaluate/predict tests, made in about a second.

A one-layer convolution (motif-sized filters, global max pool) trained with a plain
PyTorch loop on a synthetic dataset's train split, then saved with
:func:`lociflow.model.io.save_model` exactly as training saves it. It learns the planted
motif well enough that its AUROC is far above chance, so tests can tell a working
evaluation from a broken one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

TINY_ARCHITECTURE = {
    "branches": {"seq": [{"type": "conv", "filters": 8, "kernel": 8}, {"type": "pool", "mode": "max"}]},
    "common": [],
}


def tiny_architecture(branches: list[str]) -> dict:
    """The tiny conv tower for every branch."""
    layers = TINY_ARCHITECTURE["branches"]["seq"]
    return {"branches": {b: [dict(layer) for layer in layers] for b in branches}, "common": []}


def train_tiny_model(dataset_dir: Path, folder: Path, epochs: int = 40, seed: int = 0) -> Path:
    """Train the tiny network on the dataset's train split and save it into ``folder``."""
    from lociflow.io.store import open_dataset
    from lociflow.model.io import dataset_spec, save_model
    from lociflow.model.network import build_network

    dataset = open_dataset(dataset_dir)
    architecture = tiny_architecture(dataset.branches)
    torch.manual_seed(seed)
    network = build_network(architecture, dataset.channels, dataset.window, len(dataset.classes))
    train = dataset.split("train")
    inputs = [torch.as_tensor(np.asarray(train.inputs[b], dtype=np.float32)) for b in dataset.branches]
    labels = torch.as_tensor(np.array(train.labels))
    optimizer = torch.optim.Adam(network.parameters(), lr=0.02)
    network.train()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(network(*inputs), labels)
        loss.backward()
        optimizer.step()
    network.eval()
    return save_model(folder, network, dataset_spec(dataset, network.architecture))


def script_model(model_dir: Path, folder: Path, with_preprocess: bool = True) -> Path:
    """Save a trained model as TorchScript (``model.pt`` + ``spec.yaml`` with ``format: torchscript``).

    ``with_preprocess=False`` leaves the preprocess parameters out of the spec, as for a
    model trained elsewhere: window, alphabet and branches must then suffice.
    """
    import yaml

    from lociflow.model.io import load_model

    loaded = load_model(model_dir)
    folder.mkdir(parents=True, exist_ok=True)
    example = tuple(torch.zeros(1, loaded.window, len(loaded.channels[b])) for b in loaded.branches)
    traced = torch.jit.trace(loaded.network, example)
    traced.save(str(folder / "model.pt"))
    spec = {"format_version": 1, "format": "torchscript", "classes": loaded.classes,
            "branches": loaded.branches, "channels": loaded.channels, "window": loaded.window,
            "alphabet": loaded.alphabet}
    if with_preprocess:
        spec["preprocess"] = loaded.preprocess
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder
