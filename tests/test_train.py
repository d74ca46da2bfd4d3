"""Training: the model directory, best-checkpoint scoring, determinism, resume, options."""

from __future__ import annotations

import json
import math

import lightning as L
import numpy as np
import pytest
import yaml

from lociflow.errors import ConfigError, DatasetError, LociflowError
from lociflow.runs import read_ledger
from lociflow.training.callbacks import read_history
from lociflow.training.run import train

TINY = {
    "branches": {
        "seq": [{"type": "conv", "filters": 8, "kernel": 5, "pool": "max"}],
        "fold": [{"type": "conv", "filters": 4, "kernel": 5, "pool": "max"}],
        "cons": [{"type": "conv", "filters": 4, "kernel": 5, "pool": "max"}],
    },
    "common": [{"type": "pool", "mode": "max"}, {"type": "dense", "units": 8}],
}


def tiny(branches=("seq",), **overrides):
    """A small fast config: the TINY layers of the given branches, one thread."""
    config = {
        "architecture": {"branches": {b: TINY["branches"][b] for b in branches}, "common": TINY["common"]},
        "epochs": 2, "batch_size": 32, "threads": 1, "learning_rate": 0.01,
        # the options these tests check were written against: a constant rate, stopping on the loss
        "early_stopping": {"monitor": "val_loss", "patience": 10, "min_delta": 0.0},
        "schedule": "constant", "augment": {"shift": 0}, "ensemble": 1,
    }
    config.update(overrides)
    return config


@pytest.fixture
def seq_data(synthetic_dataset):
    return synthetic_dataset("seq", n=240, window=40)


def weights_of(folder):
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


def same_weights(a, b) -> bool:
    import torch

    wa, wb = weights_of(a), weights_of(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


class StopAtEpoch(L.Callback):
    """Raise KeyboardInterrupt (as Ctrl-C would) in the first batch of an epoch (0-based)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == self.epoch:
            raise KeyboardInterrupt


class FirstEpoch(L.Callback):
    """Record the first epoch a fit actually trains."""

    def __init__(self):
        self.first = None

    def on_train_epoch_start(self, trainer, pl_module):
        if self.first is None:
            self.first = trainer.current_epoch


def test_metrics_are_those_of_the_saved_best_checkpoint(seq_data, tmp_path):
    import torch

    from lociflow.io.store import open_dataset
    from lociflow.metrics import classification_metrics
    from lociflow.model.io import load_model

    # a large SGD step makes the validation loss rise again, so the best epoch is not the last
    folder = train({**tiny(), "data": seq_data, "epochs": 3, "optimizer": "sgd", "learning_rate": 0.5},
                   tmp_path / "runs", name="best")
    metrics = json.loads((folder / "metrics.json").read_text())
    history = read_history(folder / "history.tsv")
    losses = [row["val_loss"] for row in history]
    assert metrics["best_epoch"] == int(np.argmin(losses)) + 1
    best = torch.load(folder / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    saved = weights_of(folder)
    for key, value in saved.items():
        assert torch.equal(value, best["network." + key])
    test = open_dataset(seq_data).split("test")
    model = load_model(folder)
    probs = model.predict_proba({"seq": np.asarray(test.inputs["seq"])})
    again = classification_metrics(np.asarray(test.labels), probs, model.classes)
    assert metrics["auroc"] == again["auroc"]
    assert metrics["accuracy"] == again["accuracy"]
    assert metrics["best_epoch"] < len(history), "pick a setting whose best epoch is not the last"
    last = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert any(not torch.equal(v, last["network." + k]) for k, v in saved.items())


def test_same_config_gives_identical_weights(synthetic_dataset, tmp_path):
    dna = synthetic_dataset("dna", n=240, window=40, alphabet="dna")
    config = {**tiny(), "data": dna, "class_weights": "auto", "augment": {"shift": 3, "reverse_complement": True},
              "architecture": {"branches": {"seq": [{"type": "conv", "filters": 8, "kernel": 5, "pool": "max",
                                                     "dropout": 0.2}]}, "common": TINY["common"]}}
    first = train(config, tmp_path / "runs", name="one")
    second = train(config, tmp_path / "runs", name="two")
    assert same_weights(first, second)
    other = train({**config, "seed": 7}, tmp_path / "runs", name="three")
    assert not same_weights(first, other)


def test_resume_after_interrupt_continues_from_the_saved_epoch(seq_data, tmp_path):
    config = {**tiny(), "data": seq_data, "epochs": 4}
    runs = tmp_path / "runs"
    with pytest.raises(KeyboardInterrupt):
        train(config, runs, name="r", callbacks=[StopAtEpoch(2)])
    folder = runs / "r"
    assert (folder / "checkpoints" / "last.ckpt").is_file()
    assert (folder / "model.safetensors").is_file(), "the best model so far is kept"
    assert json.loads((folder / "metrics.json").read_text())["best_epoch"] in (1, 2)
    before = read_history(folder / "history.tsv")
    assert [r["epoch"] for r in before] == [1, 2]
    assert read_ledger(runs)["status"].tolist() == ["interrupted"]

    first = FirstEpoch()
    assert train(config, runs, name="r", resume=True, callbacks=[first]) == folder
    assert first.first == 2, "the resumed run starts with the third epoch"
    after = read_history(folder / "history.tsv")
    assert [r["epoch"] for r in after] == [1, 2, 3, 4]
    assert after[:2] == before
    assert read_ledger(runs)["status"].tolist() == ["interrupted", "ok"]
    # batches depend on (seed, epoch) only, so the resumed run ends where an uninterrupted one does
    straight = train(config, runs, name="straight")
    assert same_weights(straight, folder)


OPTIONS = [
    ("sgd", "constant", {}), ("rmsprop", "step", {"step_size": 1, "gamma": 0.5}),
    ("adam", "exponential", {"gamma": 0.5}), ("adamw", "plateau", {"patience": 0, "factor": 0.5}),
    ("sgd", "cosine", {}), ("adam", "onecycle", {}),
]


@pytest.mark.parametrize(("optimizer", "schedule", "options"), OPTIONS)
def test_every_optimizer_and_schedule_trains(seq_data, tmp_path, optimizer, schedule, options):
    folder = train({**tiny(), "data": seq_data, "optimizer": optimizer, "schedule": schedule,
                    "schedule_options": options, "weight_decay": 1e-4, "gradient_clip": 1.0},
                   tmp_path / "runs", name="o")
    rows = read_history(folder / "history.tsv")
    lrs = [r["lr"] for r in rows]
    if schedule == "constant":
        assert lrs == [0.01, 0.01]
    elif schedule in ("step", "exponential"):
        assert lrs == pytest.approx([0.01, 0.005])
    elif schedule == "cosine":
        assert lrs[0] == pytest.approx(0.01) and lrs[1] < 0.01
    elif schedule == "onecycle":
        assert lrs[0] == pytest.approx(0.01 / 25), "one-cycle starts at max_lr / div_factor"
    assert all(not math.isnan(r["train_loss"]) for r in rows)


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="No dataset given: pass --data"):
        train(tiny(), tmp_path / "runs")


def test_dataset_without_test_split_is_refused(synthetic_dataset, tmp_path):
    data = synthetic_dataset("notest", n=100, window=40, ratios=(0.8, 0.2, 0.0, 0.0))
    with pytest.raises(DatasetError, match="no 'test' split, which training needs"):
        train({**tiny(), "data": data}, tmp_path / "runs")
    assert not (tmp_path / "runs").exists(), "nothing is written before the inputs are checked"


def test_unknown_optimizer_names_the_choices(seq_data, tmp_path):
    with pytest.raises(ConfigError, match="train.optimizer.*'sgd', 'rmsprop', 'adam' or 'adamw'.*got 'adagrad'"):
        train({**tiny(), "data": seq_data, "optimizer": "adagrad"}, tmp_path / "runs")


def test_schedule_option_of_another_schedule_is_refused(seq_data, tmp_path):
    with pytest.raises(ConfigError, match="schedule_options.step_size does not apply to schedule 'cosine'"):
        train({**tiny(), "data": seq_data, "schedule": "cosine", "schedule_options": {"step_size": 2}},
              tmp_path / "runs")


def test_reverse_complement_of_rna_is_refused(seq_data, tmp_path):
    with pytest.raises(ConfigError, match="reverse_complement applies to DNA only"):
        train({**tiny(), "data": seq_data, "augment": {"reverse_complement": True}}, tmp_path / "runs")


def test_resume_needs_an_existing_run(seq_data, tmp_path):
    with pytest.raises(ConfigError, match="--resume needs the --name"):
        train({**tiny(), "data": seq_data}, tmp_path / "runs", resume=True)
    with pytest.raises(LociflowError, match="Cannot resume: there is no run folder"):
        train({**tiny(), "data": seq_data}, tmp_path / "runs", name="never", resume=True)


def test_reverse_complement_reverses_positions_and_pairs_bases():
    from lociflow.training.data import reverse_complement_some

    seq = one_hot(["AACG", "TTTT"])
    fold = np.arange(2 * 4 * 2, dtype=np.float32).reshape(2, 4, 2)
    rng = np.random.default_rng(0)
    out_seq, out_fold = reverse_complement_some([seq, fold], ["seq", "fold"], rng, p=1.0)
    assert decode(out_seq) == ["CGTT", "AAAA"]
    assert np.array_equal(out_fold, fold[:, ::-1, :])
    same = reverse_complement_some([seq, fold], ["seq", "fold"], rng, p=0.0)
    assert np.array_equal(same[0], seq)


def test_shift_moves_each_locus_and_fills_with_zeros():
    from lociflow.training.data import shift_batch

    seq = one_hot(["ACGTACGTAC"] * 50)
    (moved,) = shift_batch([seq], 2, np.random.default_rng(1))
    offsets = set()
    for row in moved:
        text = decode(row[None])[0]
        n = len(text) - len(text.lstrip("N"))
        if n:
            offsets.add(n)
            assert text[n:] == "ACGTACGTAC"[: 10 - n]
        elif text.endswith("N"):
            m = len(text) - len(text.rstrip("N"))
            offsets.add(-m)
            assert text[: 10 - m] == "ACGTACGTAC"[m:]
        else:
            offsets.add(0)
            assert text == "ACGTACGTAC"
    assert offsets == {-2, -1, 0, 1, 2}


def test_batches_cover_every_locus_once_and_reshuffle_each_epoch():
    from lociflow.training.data import EpochBatches

    sampler = EpochBatches(10, 3, shuffle=True, seed=5)
    first = [batch for _, _, batch in sampler]
    assert sorted(np.concatenate(first).tolist()) == list(range(10))
    assert all(np.array_equal(b, np.sort(b)) for b in first), "sorted indices read memmaps in order"
    assert [len(b) for b in first] == [3, 3, 4], "a trailing batch of one joins the one before"
    assert len(sampler) == 3
    again = [batch for _, _, batch in EpochBatches(10, 3, shuffle=True, seed=5)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    sampler.set_epoch(1)
    assert any(not np.array_equal(a, b) for a, b in zip(first, (b for _, _, b in sampler)))
    ordered = [batch.tolist() for _, _, batch in EpochBatches(7, 3, shuffle=False)]
    assert ordered == [[0, 1, 2], [3, 4, 5], [6]]


def test_auto_class_weights_are_inverse_frequency():
    from lociflow.training.module import inverse_frequency_weights

    assert inverse_frequency_weights(np.array([0, 0, 0, 1]), 3) == [4 / 9, 4 / 3, 0.0]


def one_hot(seqs):
    from synthetic import one_hot as encode

    return encode(seqs).astype(np.float32)


def decode(array):
    return ["".join("ACGT"[int(np.argmax(p))] if p.any() else "N" for p in row) for row in array]


def test_mixed_precision_and_determinism_follow_the_device(monkeypatch):
    import torch

    from lociflow.config import TrainConfig
    from lociflow.training.fit import on_gpu as _on_gpu
    from lociflow.training.fit import precision_for as _precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _precision(TrainConfig()) == "32-true" and not _on_gpu(TrainConfig())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _precision(TrainConfig()) == "16-mixed" and _on_gpu(TrainConfig())
    assert _precision(TrainConfig(accelerator="cpu")) == "32-true"
    assert _precision(TrainConfig(precision="bf16-mixed")) == "bf16-mixed"
    assert _precision(TrainConfig(precision="32")) == "32-true"


from lightning.pytorch.callbacks import Checkpoint  # noqa: E402


class StopAfterEpochEnd(Checkpoint):
    """Raise KeyboardInterrupt after the first epoch's end hooks, the best checkpoint
    included (Lightning runs Checkpoint callbacks last), but before Lightning advances its
    epoch counter: the moment a GUI Stop often lands."""

    def on_train_epoch_end(self, trainer, pl_module):
        raise KeyboardInterrupt


def test_interrupt_just_after_an_epoch_ends_counts_that_epoch(seq_data, tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(KeyboardInterrupt):
        train({**tiny(), "data": seq_data, "epochs": 4}, runs, name="r", callbacks=[StopAfterEpochEnd()])
    metrics = json.loads((runs / "r" / "metrics.json").read_text())
    assert [r["epoch"] for r in read_history(runs / "r" / "history.tsv")] == [1]
    assert metrics["epochs_trained"] == 1


class RecordWeights(L.Callback):
    """The network's own (not averaged) floating-point weights after every optimizer step."""

    def __init__(self):
        self.steps = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        state = pl_module.network.state_dict()
        self.steps.append({k: v.detach().clone() for k, v in state.items() if v.is_floating_point()})


def test_ema_saves_the_moving_average_of_the_weights(seq_data, tmp_path):
    decay = 0.9
    record = RecordWeights()
    config = {**tiny(), "data": seq_data, "epochs": 1, "ema_decay": decay}
    folder = train(config, tmp_path / "runs", name="ema", callbacks=[record])
    expected = dict(record.steps[0])  # the average starts as the first step's weights
    for step in record.steps[1:]:
        expected = {k: decay * expected[k] + (1 - decay) * step[k] for k in expected}
    saved = weights_of(folder)
    assert len(record.steps) > 3
    for key, value in expected.items():
        assert np.allclose(saved[key].numpy(), value.numpy(), atol=1e-6), key
    assert not all(np.allclose(saved[k].numpy(), record.steps[-1][k].numpy()) for k in expected), \
        "the saved model is the average, not the last step"
    # the validation metrics that chose the checkpoint were those of the averaged weights
    import torch

    from lociflow.io.store import open_dataset
    from lociflow.model.io import load_model

    valid = open_dataset(seq_data).split("valid")
    probs = load_model(folder).predict_proba({"seq": np.asarray(valid.inputs["seq"])})
    loss = torch.nn.functional.nll_loss(torch.log(torch.tensor(probs)), torch.tensor(np.asarray(valid.labels)))
    assert read_history(folder / "history.tsv")[0]["val_loss"] == pytest.approx(float(loss), abs=1e-4)


def test_resume_with_ema_ends_where_an_uninterrupted_run_does(seq_data, tmp_path):
    config = {**tiny(), "data": seq_data, "epochs": 3, "ema_decay": 0.9}
    runs = tmp_path / "runs"
    with pytest.raises(KeyboardInterrupt):
        train(config, runs, name="r", callbacks=[StopAtEpoch(1)])
    train(config, runs, name="r", resume=True)
    straight = train(config, runs, name="straight")
    assert same_weights(straight, runs / "r")
    assert not same_weights(straight, train({**config, "ema_decay": None}, runs, name="raw"))


def test_ema_decay_outside_zero_one_is_refused(seq_data, tmp_path):
    with pytest.raises(ConfigError, match="ema_decay"):
        train({**tiny(), "data": seq_data, "ema_decay": 1.0}, tmp_path / "runs")


def test_an_ensemble_averages_networks_trained_with_successive_seeds(seq_data, tmp_path):
    import torch

    from lociflow.io.store import open_dataset
    from lociflow.metrics import classification_metrics
    from lociflow.model.io import load_model
    from lociflow.model.network import EnsembleNetwork

    runs = tmp_path / "runs"
    folder = train({**tiny(), "data": seq_data, "ensemble": "auto"}, runs, name="ens")
    params = yaml.safe_load((folder / "params.yaml").read_text())
    assert params["train"]["ensemble"] == 3, "auto: three networks on a train split of under 5,000 loci"
    singles = [train({**tiny(), "data": seq_data, "seed": 42 + i}, runs, name=f"single{i}") for i in range(3)]
    for i, single in enumerate(singles, start=1):
        assert same_weights(single, folder / "members" / str(i)), "network i is the run with seed 42 + i - 1"
    model = load_model(folder)
    assert isinstance(model.network, EnsembleNetwork) and len(model.network.members) == 3
    assert model.spec["ensemble"] == 3 and model.spec["format_version"] == 2
    test = open_dataset(seq_data).split("test")
    x = np.asarray(test.inputs["seq"], np.float32)
    logits = [load_model(s).network(torch.from_numpy(x)).detach() for s in singles]
    expected = torch.softmax(torch.stack(logits).mean(0), dim=1).numpy()
    np.testing.assert_allclose(model.predict_proba({"seq": x}), expected, atol=1e-5)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["ensemble"] == 3 and metrics["complete"] is True
    assert [m["seed"] for m in metrics["members"]] == [42, 43, 44]
    assert metrics["auroc"] == classification_metrics(np.asarray(test.labels), expected, model.classes)["auroc"]
    history = read_history(folder / "history.tsv")
    assert [(r["member"], r["epoch"]) for r in history] == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)]
    assert {p.name for p in (folder / "plots").glob("*.png")} >= {"loss.png", "auroc.png", "network.png"}
    row = read_ledger(runs).iloc[0]
    assert row["params"]["ensemble"] == 3 and row["metrics"]["test_auroc"] == metrics["auroc"]["macro"]


def test_an_interrupted_ensemble_keeps_its_networks_and_resumes(seq_data, tmp_path):
    from lociflow.model.io import load_model

    class StopInSecondNetwork(L.Callback):
        def __init__(self):
            self.fits = 0

        def on_train_start(self, trainer, pl_module):
            self.fits += 1

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if self.fits == 2 and trainer.current_epoch == 1:
                raise KeyboardInterrupt

    config = {**tiny(), "data": seq_data, "ensemble": 3}
    runs = tmp_path / "runs"
    with pytest.raises(KeyboardInterrupt):
        train(config, runs, name="r", callbacks=[StopInSecondNetwork()])
    folder = runs / "r"
    partial = json.loads((folder / "metrics.json").read_text())
    assert partial["ensemble"] == 2 and partial["complete"] is False, "network 1 and network 2's best epoch"
    assert len(load_model(folder).network.members) == 2
    first = FirstEpoch()
    train(config, runs, name="r", resume=True, callbacks=[first])
    assert first.first == 1, "network 1 is kept; network 2 continues with its second epoch"
    straight = train(config, runs, name="straight")
    assert same_weights(straight, folder)
    assert json.loads((folder / "metrics.json").read_text())["complete"] is True


def test_ensemble_of_zero_networks_is_refused(seq_data, tmp_path):
    with pytest.raises(ConfigError, match="ensemble"):
        train({**tiny(), "data": seq_data, "ensemble": 0}, tmp_path / "runs")


def test_two_class_test_metrics_name_the_positive_class(seq_data, tmp_path):
    folder = train({**tiny(), "data": seq_data, "epochs": 1}, tmp_path / "runs", name="pos")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["positive"] == metrics["classes"][0] == "bound"
