"""Model folders: safetensors round trip, clear errors for damaged files, TorchScript models."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lociflow.errors import DatasetError, LociflowError, ModelFileError
from lociflow.io.store import open_dataset
from lociflow.model.io import dataset_spec, load_model, save_model
from lociflow.model.network import build_network
from lociflow.model.presets import resolve_architecture


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny networks gain nothing from threads, and busy machines make them slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small multi-branch network saved to a model folder, with its dataset (made once)."""
    from synthetic import write_dataset

    root = tmp_path_factory.mktemp("model_io")
    dataset = open_dataset(write_dataset(root / "dataset", n=120, window=20, branches=("seq", "fold", "cons"),
                                         classes=("a", "b", "c")))
    arch = resolve_architecture("cnn_rnn", None, dataset.branches, dataset.window)
    torch.manual_seed(0)
    network = build_network(arch, dataset.channels, dataset.window, len(dataset.classes))
    with torch.no_grad():  # move batch-norm statistics away from their defaults, as training would
        network.train()
        network(*[torch.from_numpy(np.array(a, dtype=np.float32)) for a in dataset.split("train").inputs.values()])
    network.eval()
    folder = save_model(root / "model", network, dataset_spec(dataset, arch))
    return folder, network, dataset


@pytest.fixture
def trained(saved, tmp_path):
    """A fresh copy of the saved model folder, free to damage."""
    folder, network, dataset = saved
    return Path(shutil.copytree(folder, tmp_path / "model")), network, dataset


def direct_proba(network, inputs, branches):
    with torch.no_grad():
        xs = [torch.from_numpy(np.array(inputs[b], dtype=np.float32)) for b in branches]
        return torch.softmax(network.eval()(*xs), dim=1).numpy()


def test_safetensors_round_trip_gives_identical_predictions(trained):
    folder, network, dataset = trained
    model = load_model(folder)
    test = dataset.split("test")
    expected = direct_proba(network, test.inputs, dataset.branches)
    assert np.array_equal(model.predict_proba(test.inputs, batch_size=len(test)), expected)
    assert np.allclose(model.predict_proba(test.inputs, batch_size=7), expected, atol=1e-6)
    assert not model.network.training


def test_loaded_model_describes_its_inputs(trained):
    folder, network, dataset = trained
    model = load_model(folder / "spec.yaml")
    assert model.classes == ["a", "b", "c"]
    assert model.branches == ["seq", "fold", "cons"] == model.network.branches
    assert model.channels == dataset.channels
    assert model.window == 20 and model.alphabet == "rna"
    assert model.preprocess["window"] == 20 and model.preprocess["strand"] is True
    assert model.architecture == network.architecture
    assert model.is_recurrent
    assert set(model.first_conv) == {"seq", "fold", "cons"}
    assert model.network.classes_count == 3


def test_spec_yaml_records_versions_and_weights_are_plain_safetensors(trained):
    folder, _, _ = trained
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    assert spec["format_version"] == 1 and spec["format"] == "safetensors"
    assert spec["n_classes"] == 3 and spec["lociflow_version"]
    raw = (folder / "model.safetensors").read_bytes()
    header_size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + header_size])
    assert "encoders.0.0.conv.weight" in header
    assert not list(folder.glob(".*.part"))


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nowhere")


def test_folder_without_spec_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="has no spec.yaml"):
        load_model(tmp_path)


def test_missing_weights_are_a_clear_error(trained):
    folder, _, _ = trained
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match="has no model.safetensors"):
        load_model(folder)


def test_truncated_weights_are_a_clear_error(trained):
    folder, _, _ = trained
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFileError, match="corrupted or truncated"):
        load_model(folder)


def test_weights_that_do_not_match_the_spec_are_a_clear_error(trained):
    folder, _, _ = trained
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    spec["architecture"]["branches"]["seq"][0]["filters"] = 32
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelFileError, match="does not match the architecture.*wrong shape.*encoders.0.0.conv.weight"):
        load_model(folder)


def test_weights_missing_a_layer_are_a_clear_error(trained):
    folder, _, _ = trained
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    spec["architecture"]["common"].append({"type": "dense", "units": 4})
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelFileError, match="missing 2 weight"):
        load_model(folder)


def test_newer_format_version_asks_for_an_upgrade(trained):
    folder, _, _ = trained
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    spec["format_version"] = 3
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelFileError, match="format version 3, newer than this lociflow reads \\(2\\); upgrade"):
        load_model(folder)


def test_bad_yaml_is_a_clear_error(trained):
    folder, _, _ = trained
    (folder / "spec.yaml").write_text("classes: [a, b\nwindow: : 3\n")
    with pytest.raises(ModelFileError, match="spec.yaml is not valid YAML"):
        load_model(folder)


def test_yaml_tags_that_would_run_code_are_refused(trained):
    folder, _, _ = trained
    (folder / "spec.yaml").write_text("format_version: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ModelFileError, match="not valid YAML"):
        load_model(folder)


def test_spec_without_required_fields_is_a_clear_error(trained):
    folder, _, _ = trained
    (folder / "spec.yaml").write_text("format_version: 1\nclasses: [a, b]\n")
    with pytest.raises(ModelFileError, match="lacks branches, channels, window"):
        load_model(folder)


def test_unknown_format_is_a_clear_error(trained):
    folder, _, _ = trained
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    spec["format"] = "onnx"
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelFileError, match="unknown format 'onnx'"):
        load_model(folder)


def test_inputs_of_the_wrong_shape_are_refused_with_the_expected_shape(trained):
    folder, _, dataset = trained
    model = load_model(folder)
    inputs = dict(dataset.split("test").inputs)
    inputs["seq"] = np.zeros((3, 25, 4), dtype=np.uint8)
    with pytest.raises(DatasetError, match="branch 'seq' input has shape \\(3, 25, 4\\); the model expects \\[N, 20, 4\\]"):
        model.predict_proba(inputs)
    inputs["seq"] = dataset.split("test").inputs["seq"]
    del inputs["fold"]
    with pytest.raises(DatasetError, match="needs input branch 'fold'"):
        model.predict_proba(inputs)
    inputs["fold"] = np.zeros((5, 20, 3), dtype=np.float32)
    with pytest.raises(DatasetError, match="inputs differ in length"):
        model.predict_proba(inputs)


def _write_torchscript(folder, network, dataset, **extra):
    folder.mkdir()
    examples = tuple(torch.zeros(2, dataset.window, len(c)) for c in dataset.channels.values())
    torch.jit.trace(network.eval(), examples, check_trace=False).save(str(folder / "model.pt"))
    spec = {"format_version": 1, "format": "torchscript", "classes": dataset.classes, "branches": dataset.branches,
            "channels": dataset.channels, "window": dataset.window, "alphabet": dataset.alphabet,
            "preprocess": dict(dataset.params), **extra}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))


def test_torchscript_model_round_trip(trained, tmp_path):
    _, network, dataset = trained
    _write_torchscript(tmp_path / "scripted", network, dataset)
    model = load_model(tmp_path / "scripted")
    test = dataset.split("test")
    assert model.format == "torchscript"
    assert model.network.branches == dataset.branches and model.network.classes_count == 3
    assert np.allclose(model.predict_proba(test.inputs), direct_proba(network, test.inputs, dataset.branches), atol=1e-6)
    assert model.is_recurrent
    assert model.first_conv == {}


def test_torchscript_model_with_channels_first_probabilities(trained, tmp_path):
    _, network, dataset = trained

    class ChannelsFirstSoftmax(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, seq, fold, cons):
            logits = self.inner(seq.transpose(1, 2), fold.transpose(1, 2), cons.transpose(1, 2))
            return torch.softmax(logits, dim=1)

    wrapped = ChannelsFirstSoftmax(network.eval())
    folder = tmp_path / "foreign"
    folder.mkdir()
    examples = tuple(torch.zeros(2, len(c), dataset.window) for c in dataset.channels.values())
    torch.jit.trace(wrapped, examples, check_trace=False).save(str(folder / "model.pt"))
    spec = {"format_version": 1, "format": "torchscript", "classes": dataset.classes, "branches": dataset.branches,
            "channels": dataset.channels, "window": dataset.window, "input_layout": "channels_first",
            "output": "probabilities"}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    model = load_model(folder)
    test = dataset.split("test")
    assert np.allclose(model.predict_proba(test.inputs), direct_proba(network, test.inputs, dataset.branches), atol=1e-5)


def test_damaged_torchscript_file_is_a_clear_error(trained):
    folder, _, _ = trained
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    spec["format"] = "torchscript"
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelFileError, match="says format: torchscript but .*model.pt does not exist"):
        load_model(folder)
    (folder / "model.pt").write_bytes(b"not a zip archive")
    with pytest.raises(ModelFileError, match="not a readable TorchScript file"):
        load_model(folder)


@pytest.mark.parametrize("change,message", [
    ({"classes": "a"}, "classes must be a list of at least two class names"),
    ({"channels": ["A", "C"]}, "channels must map each branch to its list of channel names"),
    ({"branches": ["seq"]}, "branches \\['seq'\\] and channels .* disagree"),
    ({"window": "twenty"}, "window must be a positive whole number \\(got 'twenty'\\)"),
    ({"n_classes": 2}, "n_classes 2 differs from the 3 classes listed"),
])
def test_spec_with_wrong_field_types_is_a_clear_error(trained, change, message):
    folder, _, _ = trained
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    spec.update(change)
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelFileError, match=message):
        load_model(folder)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error(trained):
    folder, _, _ = trained
    with pytest.raises(LociflowError, match="no CUDA GPU is available here; use cpu or auto"):
        load_model(folder, device="cuda")
    assert load_model(folder, device="auto").device.type == "cpu"


def test_identical_networks_give_identical_weight_file_bytes(tmp_path):
    """Determinism down to the bytes: safetensors metadata must not vary between runs."""
    import torch

    from lociflow.model.io import save_model
    from lociflow.model.network import build_network
    from lociflow.model.presets import resolve_architecture

    channels = {"seq": ["A", "C", "G", "T"]}
    blobs = []
    for i in range(2):
        torch.manual_seed(0)
        arch = resolve_architecture("cnn", None, ["seq"], window=40)
        net = build_network(arch, channels, 40, 2)
        folder = save_model(tmp_path / f"m{i}", net, {"classes": ["a", "b"], "channels": channels,
                                                       "branches": ["seq"], "window": 40, "alphabet": "dna",
                                                       "architecture": arch})
        blobs.append((folder / "model.safetensors").read_bytes())
    assert blobs[0] == blobs[1]


@pytest.mark.parametrize(("value", "message"), [
    ("three", "ensemble must be a positive whole number of networks \\(got 'three'\\)"),
    (0, "ensemble must be a positive whole number of networks \\(got 0\\)"),
    (2, "does not match the architecture in spec.yaml: missing .* weight\\(s\\), e.g. members.0"),
])
def test_a_wrong_ensemble_count_is_a_clear_error(trained, value, message):
    folder, _, _ = trained
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    spec["ensemble"] = value
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelFileError, match=message):
        load_model(folder)


# --------------------------------------------------------------------------- a model folder is data


def rewrite_spec(folder: Path, **changes) -> dict:
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    spec.update(changes)
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    return spec


def test_spec_records_the_weights_sha256_and_one_flipped_byte_is_refused(trained):
    import hashlib

    folder, _, _ = trained
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    weights = folder / "model.safetensors"
    assert spec["weights_sha256"] == {"model.safetensors": hashlib.sha256(weights.read_bytes()).hexdigest()}
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01  # inside the last tensor: the file still parses
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="the weights were changed or damaged after training"):
        load_model(folder)


def test_old_model_without_hash_loads_with_a_note(trained, caplog):
    folder, _, _ = trained
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    del spec["weights_sha256"]
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    with caplog.at_level("INFO", logger="lociflow.model.io"):
        load_model(folder)
    assert "records no SHA-256 of model.safetensors" in caplog.text


@pytest.mark.parametrize("name", ["../outside.pt", "/etc/passwd", "sub/../../outside.pt", 7])
def test_torchscript_file_outside_the_model_folder_is_refused(trained, name):
    folder, _, _ = trained
    (folder.parent / "outside.pt").write_bytes(b"anything")
    rewrite_spec(folder, format="torchscript", file=name)
    with pytest.raises(ModelFileError, match="outside the model folder|must be the name of a file in the model folder"):
        load_model(folder)


def test_weights_linked_from_outside_the_folder_are_refused(trained, tmp_path):
    folder, _, _ = trained
    elsewhere = tmp_path / "elsewhere.safetensors"
    shutil.move(folder / "model.safetensors", elsewhere)
    (folder / "model.safetensors").symlink_to(elsewhere)
    with pytest.raises(ModelFileError, match="weights file 'model.safetensors' resolves to .*outside the model folder"):
        load_model(folder)


def test_torchscript_is_logged_as_code(trained, caplog):
    folder, _, _ = trained
    rewrite_spec(folder, format="torchscript")
    (folder / "model.pt").write_bytes(b"not a zip archive")
    with caplog.at_level("WARNING", logger="lociflow.model.io"), pytest.raises(ModelFileError):
        load_model(folder)
    assert "is a TorchScript model: it carries code" in caplog.text


@pytest.mark.parametrize("change, pattern", [
    ("filters", r"needs ([0-9,]+) parameters"),
    ("window", r"and ([0-9,]+) activation values for a batch of 1"),
])
def test_model_too_large_for_memory_is_refused_from_the_spec_with_numbers(trained, change, pattern):
    import re
    import time

    folder, _, _ = trained
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    if change == "filters":
        spec["architecture"]["branches"]["seq"][0]["filters"] = 1_000_000_000
    else:
        spec["window"] = 10**12  # the network ends in a GRU's mean: only the activations grow
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    started = time.perf_counter()
    with pytest.raises(ModelFileError, match="the model needs [0-9,]+ parameters .* GiB free") as info:
        load_model(folder)
    assert time.perf_counter() - started < 10, "the size was not checked before allocating"
    assert "spec.yaml" in str(info.value)
    assert int(re.search(pattern, str(info.value)).group(1).replace(",", "")) > 10**9


def test_resume_checkpoint_that_needs_unpickling_is_a_message(tmp_path):
    import collections

    from lociflow.training.fit import check_checkpoint

    unsafe = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, "callback": collections.Counter("abc"), "obj": Path("x")}, unsafe)
    with pytest.raises(LociflowError, match="cannot be read safely as weights only"):
        check_checkpoint(unsafe, tmp_path)
    unsafe.write_bytes(b"\x80\x04 cut short")
    with pytest.raises(LociflowError, match="Delete it to restart"):
        check_checkpoint(unsafe, tmp_path)
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 3}, tmp_path / "ok.ckpt")
    check_checkpoint(tmp_path / "ok.ckpt", tmp_path)


def test_cpu_forward_passes_take_fewer_loci_the_longer_the_window():
    from lociflow.model.io import CPU_FORWARD_POSITIONS, CPU_FORWARD_ROWS, cpu_forward_rows

    rows = {w: cpu_forward_rows(w) for w in (1, 101, 150, 256, 257, 300, 500, 1000, 1024, 1025, 2000, 100_000)}
    assert rows == {1: 128, 101: 128, 150: 128, 256: 128, 257: 64, 300: 64, 500: 64, 1000: 32, 1024: 32,
                    1025: 16, 2000: 16, 100_000: 16}
    for window, n in rows.items():  # a power of two, never above the cap nor below 16
        assert n & (n - 1) == 0 and 16 <= n <= CPU_FORWARD_ROWS
        assert n * window <= CPU_FORWARD_POSITIONS or n == 16
