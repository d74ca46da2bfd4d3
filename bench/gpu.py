"""Everything a GPU changes, measured in one short run (a few minutes on the GPU it finds).

Run ``python bench/gpu.py`` on a machine with a CUDA GPU (``--device cpu --quick`` is a smoke
run of the script itself anywhere). It prints, with the GPU's name:

- training samples/s and lociflow's data-wait share for the ``cnn`` and ``cnn_rnn`` presets
  with mixed precision (``16-mixed``; ``bf16-mixed`` too where the GPU has bfloat16);
- prediction windows/s (``LoadedModel.predict_proba``, batch 2048);
- saliency, IG (50 steps), DeepLIFT/SHAP (20 shuffles) and ISM seconds per 1,000 x 150 nt,
  lociflow's batched methods against captum called one sequence at a time and against
  tangermeme (when installed) on the same model and GPU, in the same run;
- peak GPU memory of each row.

Record what it prints in ``bench/RESULTS.md`` with the GPU named.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("LOCIFLOW_PROGRESS", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

warnings.filterwarnings("ignore")


def peak_memory(device: torch.device) -> str:
    if device.type != "cuda":
        return "-"
    peak = torch.cuda.max_memory_allocated(device) / 2 ** 20
    torch.cuda.reset_peak_memory_stats(device)
    return f"{peak:.0f} MiB"


def synchronised(device: torch.device, fn, *args, **kwargs) -> float:
    """Wall seconds of ``fn(*args, **kwargs)`` with the GPU's queue drained before and after."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn(*args, **kwargs)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def training_rows(data: Path, device: torch.device, epochs: int, tmp: Path) -> None:
    from train import StepClock, rates  # bench/train.py

    import lociflow

    precisions = ["16-mixed", "bf16-mixed"] if device.type == "cuda" else ["32"]
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        precisions = ["16-mixed"]
    print(f"\n{'preset':>8} {'precision':>10} {'samples/s':>10} {'data wait':>10} {'peak memory':>12}")
    for preset in ("cnn", "cnn_rnn"):
        for precision in precisions:
            clock = StepClock()
            config = {"data": str(data), "preset": preset, "epochs": epochs, "batch_size": 256,
                      "precision": precision, "early_stopping": None,
                      "accelerator": "gpu" if device.type == "cuda" else "cpu", "devices": 1}
            lociflow.train(config, tmp / f"{preset}-{precision}", callbacks=[clock])
            r = rates(clock.epochs)
            print(f"{preset:>8} {precision:>10} {r['per_s']:>10.0f} {100 * r['wait_share']:>9.1f}% "
                  f"{peak_memory(device):>12}")


def prediction_row(data: Path, device: torch.device, tmp: Path) -> None:
    import lociflow

    folder = lociflow.train({"data": str(data), "preset": "cnn", "epochs": 1, "early_stopping": None,
                             "accelerator": "gpu" if device.type == "cuda" else "cpu", "devices": 1},
                            tmp / "predict-model")
    model = lociflow.load_model(folder, device=device)
    x = np.asarray(lociflow.open_dataset(data).split("train").inputs["seq"])
    x = np.concatenate([x] * max(1, 50_000 // len(x)))
    model.predict_proba({"seq": x[:2048]}, batch_size=2048)
    seconds = synchronised(device, model.predict_proba, {"seq": x}, batch_size=2048)
    print(f"\nprediction: {len(x) / seconds:,.0f} windows/s (cnn, batch 2048), peak {peak_memory(device)}")


def attribution_rows(device: torch.device, n: int, naive_n: int) -> None:
    from interpret import ChannelsFirst, naive_captum  # bench/interpret.py

    from lociflow.interpretation.attribution import (
        deep_lift_shap,
        integrated_gradients,
        saliency,
    )
    from lociflow.interpretation.mutagenesis import in_silico_mutagenesis
    from lociflow.model.network import build_network
    from lociflow.model.presets import resolve_architecture

    torch.use_deterministic_algorithms(False)  # training turned it on for this process (Lightning)
    torch.manual_seed(0)
    network = build_network(resolve_architecture("cnn", None, ["seq"], 150), {"seq": list("ACGT")}, 150, 2)
    network.to(device).eval()
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, 150))]
    ours = {
        "saliency": lambda: saliency(network, {"seq": x}, 1, batch_size=1024, device=device, verbose=False),
        "ig-50": lambda: integrated_gradients(network, {"seq": x}, 1, steps=50, batch_size=4096, device=device,
                                              verbose=False),
        "deepshap-20": lambda: deep_lift_shap(network, {"seq": x}, 1, n_shuffles=20, batch_size=4096,
                                              device=device, verbose=False),
        "ism": lambda: in_silico_mutagenesis(network, {"seq": x}, 1, batch_size=4096, device=device, verbose=False),
    }
    naive = {"saliency": "saliency", "ig-50": "ig", "deepshap-20": "deepshap"}
    try:
        from tangermeme.deep_lift_shap import deep_lift_shap as tm_dls
        from tangermeme.saturation_mutagenesis import saturation_mutagenesis as tm_ism
    except ImportError:
        tm_dls = tm_ism = None
        print("\ntangermeme is not installed: its column stays empty (pip install tangermeme)")
    wrapped = ChannelsFirst(network).to(device)
    xt = torch.as_tensor(x.transpose(0, 2, 1), device=device)
    theirs = {}
    if tm_dls is not None:
        theirs = {"deepshap-20": lambda: tm_dls(wrapped, xt, target=1, n_shuffles=20, batch_size=4096,
                                                device=str(device), verbose=False),
                  "ism": lambda: tm_ism(wrapped, xt, batch_size=4096, device=str(device), verbose=False)}
    scale = 1000 / n
    print(f"\n{'method':>12} {'lociflow s/1k':>14} {'captum naive s/1k':>18} {'tangermeme s/1k':>16} {'peak':>10}")
    for method, run in ours.items():
        run()  # warm-up (cuDNN autotuning, allocations)
        peak_memory(device)
        seconds = synchronised(device, run) * scale
        peak = peak_memory(device)
        slow = "-"
        if method in naive:
            subset = x[:naive_n]
            with torch.enable_grad():
                slow = f"{synchronised(device, naive_captum, network, subset, naive[method]) * 1000 / naive_n:.2f}"
        tm = f"{synchronised(device, theirs[method]) * scale:.2f}" if method in theirs else "-"
        print(f"{method:>12} {seconds:>14.2f} {slow:>18} {tm:>16} {peak:>10}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for a smoke run.")
    parser.add_argument("--quick", action="store_true", help="Small sizes: checks the script, measures nothing.")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("No CUDA GPU here: run this on a GPU machine, or --device cpu --quick to check the script.")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    loci, epochs, n, naive_n = (600, 2, 64, 8) if args.quick else (20_000, 3, 1000, 100)
    print(f"device: {name}; torch {torch.__version__}; {loci} loci of 150 nt")
    from synthetic import write_dataset

    with tempfile.TemporaryDirectory(prefix="lociflow-bench-gpu-") as tmp:
        tmp = Path(tmp)
        data = write_dataset(tmp / "data", n=loci, window=150, alphabet="dna", ratios=(0.8, 0.1, 0.1, 0.0))
        training_rows(data, device, epochs, tmp)
        prediction_row(data, device, tmp)
        attribution_rows(device, n, naive_n)


if __name__ == "__main__":
    main()
