"""The model-input layer (``lociflow.model.inputs``): one way from a stage's config to batches.

A tiny model with a known output (a sum of the ``A`` channel, so the logit of a window
is its count of A) makes every check exact: encoded batches must reach the network
with the model's window and channels, in input order, with labels as model class
indices, and the probabilities must not depend on how the input is cut into batches.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from synthetic import write_dataset
from torch import nn

from lociflow.config import EvaluateConfig, InterpretConfig, PredictConfig, parse_stage
from lociflow.errors import ConfigError, DatasetError, InputFileError, LociflowError
from lociflow.model.device import resolve_device, torch_threads
from lociflow.model.inputs import open_input, open_model
from lociflow.model.shapes import check_inputs

WINDOW = 12
CHANNELS = {"seq": ["A", "C", "G", "T"]}


class CountA(nn.Module):
    """Logits ``[#A, 0]``: a window's first-class logit is its number of A."""

    branches = ["seq"]

    def forward(self, seq):
        count = seq[..., 0].sum(dim=1, keepdim=True)
        return torch.cat([count, torch.zeros_like(count)], dim=1)


def save_counting_model(folder, classes=("bound", "unbound"), window=WINDOW, preprocess=None):
    """A TorchScript model folder whose network counts A (known output, no training)."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.jit.script(CountA()).save(str(folder / "model.pt"))
    spec = {"format_version": 1, "format": "torchscript", "classes": list(classes), "branches": ["seq"],
            "channels": CHANNELS, "window": window, "alphabet": "dna"}
    if preprocess is not None:
        spec["preprocess"] = preprocess
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


def softmax_first(count_a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-count_a))


@pytest.fixture
def model_dir(tmp_path):
    return save_counting_model(tmp_path / "model")


def write_fasta(path, records):
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in records))
    return path


# --------------------------------------------------------------------------- open_model


def test_no_model_is_one_message_for_every_stage(tmp_path):
    for stage, model in (("evaluate", EvaluateConfig), ("predict", PredictConfig), ("interpret", InterpretConfig)):
        with pytest.raises(ConfigError, match=r"No model given: name a model directory \(--model MODEL_DIR\)"):
            open_model(parse_stage(model, {}, stage))


def test_open_model_puts_the_network_on_the_named_device(model_dir):
    model = open_model(parse_stage(PredictConfig, {"model": str(model_dir), "device": "cpu"}, "predict"))
    assert model.device == torch.device("cpu") and model.window == WINDOW


# --------------------------------------------------------------------------- new files


def test_new_files_reach_the_network_in_input_order_with_the_model_window(model_dir, tmp_path):
    # records longer and shorter than the window; the window is centred and N-padded
    records = [("r1", "AAAAAAAAAAAAAAAAAAAA"), ("r2", "CCCC"), ("r3", "ACACACACACAC")]
    fasta = write_fasta(tmp_path / "in.fa", records)
    cfg = parse_stage(PredictConfig, {"model": str(model_dir), "input": [str(fasta)]}, "predict")
    model = open_model(cfg)
    batch = open_input(cfg, model).read()
    assert batch.labels is None
    assert list(batch.meta["id"]) == ["r1", "r2", "r3"]
    assert batch.inputs["seq"].shape == (3, WINDOW, 4)
    counts = np.asarray(batch.inputs["seq"], np.float32)[..., 0].sum(axis=1)
    assert counts.tolist() == [WINDOW, 0, WINDOW // 2]
    probs = model.predict_proba(batch.inputs)
    np.testing.assert_allclose(probs[:, 0], softmax_first(counts), rtol=1e-6)


def test_probabilities_do_not_depend_on_batch_or_chunk_size(model_dir, tmp_path):
    rng = np.random.default_rng(0)
    records = [(f"r{i}", "".join(rng.choice(list("ACGT"), size=int(rng.integers(5, 30))))) for i in range(37)]
    fasta = write_fasta(tmp_path / "in.fa", records)
    cfg = parse_stage(PredictConfig, {"model": str(model_dir), "input": [str(fasta)]}, "predict")
    model = open_model(cfg)
    source = open_input(cfg, model)
    whole = model.predict_proba(source.read().inputs, batch_size=64)
    for chunk in (1, 5, 36, 100):
        batches = list(source.batches(chunk))
        assert all(0 < len(b) <= chunk for b in batches)
        parts = np.concatenate([model.predict_proba(b.inputs, batch_size=3) for b in batches])
        np.testing.assert_array_equal(parts, whole)
        assert [i for b in batches for i in b.meta["id"]] == [r[0] for r in records]


def test_labelled_files_carry_model_class_indices(tmp_path):
    # the model lists unbound first: labels follow the model's order, not the config's
    model_dir = save_counting_model(tmp_path / "model", classes=("unbound", "bound"))
    bound = write_fasta(tmp_path / "b.fa", [("b1", "A" * WINDOW), ("b2", "A" * WINDOW)])
    unbound = write_fasta(tmp_path / "u.fa", [("u1", "C" * WINDOW)])
    cfg = parse_stage(EvaluateConfig, {"model": str(model_dir),
                                       "classes": {"bound": str(bound), "unbound": str(unbound)}}, "evaluate")
    batch = open_input(cfg, open_model(cfg), labelled=True).read()
    assert batch.labels.tolist() == [1, 1, 0]
    assert list(batch.meta["class"]) == ["bound", "bound", "unbound"]


def test_interpret_encodes_with_the_model_window_not_a_stale_preprocess_section(tmp_path):
    # a model trained elsewhere whose preprocess section names another window: the model's own wins
    model_dir = save_counting_model(tmp_path / "model", preprocess={"window": 150, "alphabet": "rna"})
    fasta = write_fasta(tmp_path / "in.fa", [("r1", "A" * 40)])
    cfg = parse_stage(InterpretConfig, {"model": str(model_dir), "input": [str(fasta)]}, "interpret")
    model = open_model(cfg)
    assert model.preprocess["window"] == WINDOW and model.preprocess["alphabet"] == "dna"
    assert open_input(cfg, model).read().inputs["seq"].shape == (1, WINDOW, 4)


def test_input_files_are_checked_before_anything_is_read(model_dir, tmp_path):
    model = open_model(parse_stage(PredictConfig, {"model": str(model_dir)}, "predict"))
    missing = parse_stage(PredictConfig, {"model": str(model_dir), "input": [str(tmp_path / "absent.fa")]}, "predict")
    with pytest.raises(InputFileError, match="absent.fa does not exist"):
        open_input(missing, model)
    (tmp_path / "loci.bed").write_text("chr1\t10\t20\n")
    bed = parse_stage(PredictConfig, {"model": str(model_dir), "input": [str(tmp_path / "loci.bed")]}, "predict")
    with pytest.raises(InputFileError, match="give the reference genome"):
        open_input(bed, model)


def test_an_input_with_no_locus_is_named(model_dir, tmp_path):
    (tmp_path / "empty.txt").write_text("\n")
    cfg = parse_stage(PredictConfig, {"model": str(model_dir), "input": [str(tmp_path / "empty.txt")]}, "predict")
    with pytest.raises(LociflowError, match="empty|no loci|no sequence"):
        open_input(cfg, open_model(cfg)).read()


# --------------------------------------------------------------------------- which source


@pytest.mark.parametrize("stage, model, section, message", [
    ("predict", PredictConfig, {}, r"No input given: name at least one BED, FASTA or text file \(--input FILE\)"),
    ("evaluate", EvaluateConfig, {}, "either a dataset directory .* or new files per class"),
    ("evaluate", EvaluateConfig, {"data": "d", "classes": {"a": "a.fa"}}, "not both and not neither"),
    ("interpret", InterpretConfig, {}, r"either a dataset directory \(--data .* or input files \(--input FILE\)"),
    ("interpret", InterpretConfig, {"data": "d", "input": ["a.fa"]}, "not both and not neither"),
])
def test_exactly_one_source_is_asked_for_in_the_stage_own_terms(model_dir, stage, model, section, message):
    cfg = parse_stage(model, {"model": str(model_dir), **section}, stage)
    with pytest.raises(ConfigError, match=message):
        open_input(cfg, open_model(cfg), labelled=stage == "evaluate")


# --------------------------------------------------------------------------- dataset splits


def test_dataset_split_batches_are_memory_maps_with_mapped_labels(tmp_path):
    data = write_dataset(tmp_path / "data", n=60, window=WINDOW, alphabet="dna")
    model_dir = save_counting_model(tmp_path / "model", classes=("unbound", "bound"))
    cfg = parse_stage(EvaluateConfig, {"model": str(model_dir), "data": str(data)}, "evaluate")
    model = open_model(cfg)
    source = open_input(cfg, model, labelled=True)
    from lociflow.io.store import open_dataset

    split = open_dataset(data).split("test")
    whole = source.read()
    assert "test split" in source.description and len(whole) == len(split)
    expected = np.where(np.asarray(split.labels) == 0, 1, 0)  # dataset: bound=0; model: bound=1
    assert whole.labels.tolist() == expected.tolist()
    batches = list(source.batches(4))
    assert sum(len(b) for b in batches) == len(split)
    np.testing.assert_array_equal(np.concatenate([b.inputs["seq"] for b in batches]), np.asarray(split.inputs["seq"]))


def test_a_dataset_that_does_not_fit_lists_every_difference(tmp_path):
    data = write_dataset(tmp_path / "data", n=40, window=WINDOW + 3, alphabet="dna")
    model_dir = save_counting_model(tmp_path / "model")
    cfg = parse_stage(EvaluateConfig, {"model": str(model_dir), "data": str(data)}, "evaluate")
    with pytest.raises(DatasetError, match=f"window: the model expects {WINDOW}, the dataset has {WINDOW + 3}"):
        open_input(cfg, open_model(cfg), labelled=True)


# --------------------------------------------------------------------------- shapes and devices


def test_one_shape_check_names_branch_window_and_length():
    good = {"seq": np.zeros((3, WINDOW, 4))}
    assert check_inputs(["seq"], good, "x", WINDOW, CHANNELS)[0] is good["seq"]
    with pytest.raises(DatasetError, match=r"x: the inputs lack the branch\(es\) \['fold'\]"):
        check_inputs(["seq", "fold"], good, "x")
    with pytest.raises(DatasetError, match=r"branch 'seq' input has shape \(3, 9, 4\); the model expects \[N, 12, 4\]"):
        check_inputs(["seq"], {"seq": np.zeros((3, 9, 4))}, "x", WINDOW, CHANNELS)
    with pytest.raises(DatasetError, match=r"'seq' must be shaped \[N, L, C\]"):
        check_inputs(["seq"], {"seq": np.zeros((3, 4))}, "x")
    with pytest.raises(DatasetError, match=r"differ in length \(seq 3, fold 2\)"):
        check_inputs(["seq", "fold"], {"seq": np.zeros((3, 5, 4)), "fold": np.zeros((2, 5, 4))}, "x")


def test_devices_resolve_one_way():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(LociflowError, match="Unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(LociflowError, match="no CUDA GPU is available here"):
            resolve_device("cuda:1")


def test_torch_threads_are_restored():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_cpu_forward_passes_are_cut_small_without_changing_a_probability(tmp_path, monkeypatch):
    import lociflow.model.io as model_io
    from lociflow.model.io import dataset_spec, load_model, save_model
    from lociflow.model.network import build_network
    from lociflow.model.presets import resolve_architecture

    data = write_dataset(tmp_path / "data", n=60, window=WINDOW, alphabet="dna")
    from lociflow.io.store import open_dataset

    dataset = open_dataset(data)
    torch.manual_seed(0)
    network = build_network(resolve_architecture("cnn", None, dataset.branches, WINDOW), dataset.channels,
                            WINDOW, 2)
    model = load_model(save_model(tmp_path / "model", network.eval(), dataset_spec(dataset, network.architecture)))
    x = {"seq": np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (300, WINDOW))]}
    whole = model.predict_proba(x, batch_size=300)
    seen = []
    original = model.network.forward
    monkeypatch.setattr(model.network, "forward", lambda *a: seen.append(len(a[0])) or original(*a))
    monkeypatch.setattr(model_io, "CPU_FORWARD_ROWS", 64)
    np.testing.assert_allclose(model.predict_proba(x, batch_size=300), whole, rtol=0, atol=1e-6)
    assert max(seen) == 64 and sum(seen) == 300
