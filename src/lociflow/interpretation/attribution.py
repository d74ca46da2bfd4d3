"""Attribution maps: how much each input position and channel pushes a class score.

All methods run over many sequences and every branch of a multi-branch network at
once (captum on tuples of inputs), share one vocabulary of arguments, and return small
named tuples of per-branch numpy arrays shaped like the inputs (``[N, L, C]``):

- :func:`saliency`: the gradient of the class score, and gradient x input
  (Simonyan et al. 2014);
- :func:`integrated_gradients`: path-integrated gradients from a baseline of zeros,
  of dinucleotide shuffles (averaged) or of the user's arrays, with the convergence
  delta and optional SmoothGrad noise (Sundararajan et al. 2017; Smilkov et al. 2017);
- :func:`deep_lift_shap`: DeepLIFT rescale multipliers averaged over dinucleotide-
  shuffled references (DeepSHAP; Shrikumar et al. 2017, Lundberg and Lee 2017), with
  the hypothetical contributions that TF-MoDISco reads;
- :func:`in_silico_mutagenesis` (in :mod:`lociflow.interpretation.mutagenesis`).

The class score is the target class's logit (see :mod:`lociflow.interpretation.scoring`).
Shuffled references are drawn in fixed blocks of sequences seeded by ``random_state``
and the block number, so results do not depend on ``batch_size``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import torch
from captum.attr import DeepLift, IntegratedGradients
from torch import nn

from lociflow.errors import LociflowError
from lociflow.interpretation.mutagenesis import in_silico_mutagenesis
from lociflow.interpretation.scoring import (
    attribution_mode,
    is_recurrent,
    ordered_inputs,
    progress,
    targets_for,
)
from lociflow.layout import SEQUENCE_BRANCH
from lociflow.model.device import resolve_device
from lociflow.preprocessing.shuffle import dinucleotide_shuffle

__all__ = [
    "Attributions",
    "IGResult",
    "ShapResult",
    "saliency",
    "integrated_gradients",
    "deep_lift_shap",
    "in_silico_mutagenesis",
    "SEQUENCE_BRANCH",
]

log = logging.getLogger("lociflow.interpret.attribution")

#: the one-hot nucleotide branch: shuffled for references, the only one with hypothetical contributions
# sequences per block of references (fixed, so that results do not depend on batch_size)
_BLOCK = 1024


class _DeepLift(DeepLift):
    """captum's DeepLift with max pooling passing the gradient to the maximum.

    That is the default of the reference DeepLIFT implementation (and of tangermeme);
    captum's own max-pool rule re-runs each pooling with indices and costs about a third
    of the whole attribution on convolutional networks.
    """

    def _is_non_linear(self, module: nn.Module) -> bool:
        return super()._is_non_linear(module) and not isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d))


class Attributions(NamedTuple):
    """Saliency maps per branch, each ``[N, L, C]``."""

    gradients: dict[str, np.ndarray]
    gradient_x_input: dict[str, np.ndarray]


class IGResult(NamedTuple):
    """Integrated gradients per branch (``[N, L, C]``) and their convergence check (``[N]``).

    ``delta`` is sum(attributions) - (scores - baseline_scores): zero for exact
    completeness; its size tells how far the path integral is from converged.
    """

    attributions: dict[str, np.ndarray]
    delta: np.ndarray
    scores: np.ndarray
    baseline_scores: np.ndarray


class ShapResult(NamedTuple):
    """DeepLIFT/SHAP contributions per branch and hypothetical contributions of ``seq``.

    ``attributions[b]`` is multiplier x (input - reference) per channel, averaged over
    the references; a position's contribution is the sum over its channels.
    ``hypothetical["seq"][i, l, b]`` is the contribution base ``b`` would have had at
    position ``l``; the actual contribution is the hypothetical one of the base present.
    ``method`` is ``"deeplift"``, or ``"integrated_gradients"`` for recurrent networks.
    ``delta`` [N] is sum(attributions) - (score - mean reference score); max pooling
    keeps DeepLIFT's summation only approximately when input and reference peak at
    different positions, so it is reported rather than assumed to be zero.
    """

    attributions: dict[str, np.ndarray]
    hypothetical: dict[str, np.ndarray]
    delta: np.ndarray
    method: str


def saliency(
    network: nn.Module,
    inputs: Mapping[str, np.ndarray],
    target: int | np.ndarray,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    random_state: int = 0,
    verbose: bool = True,
) -> Attributions:
    """Gradient of the class score with respect to every input, and gradient x input.

    Why: the cheapest map (one backward pass) of where the network is sensitive.

    Parameters
    ----------
    network : torch.nn.Module
        A lociflow network (``forward(*inputs)``, attribute ``branches``).
    inputs : dict of str to numpy.ndarray
        ``[N, L, C]`` arrays keyed by branch.
    target : int or numpy.ndarray
        Class index, or one per sequence (``[N]``).
    batch_size : int
        Sequences per forward/backward pass. Default is 256.
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"auto"``. Default is ``"cpu"``.
    random_state : int
        Unused (no randomness); kept so every method takes the same arguments. Default is 0.
    verbose : bool
        Show a progress bar. Default is True.

    Returns
    -------
    Attributions
        ``gradients`` and ``gradient_x_input``, dicts of ``[N, L, C]`` float32 arrays.
    """
    branches, arrays, targets, dev = _setup(network, inputs, target, device)
    n = len(targets)
    grads = [np.zeros(a.shape, np.float32) for a in arrays]
    with attribution_mode(network, dev), progress("Saliency", n, verbose) as pbar:
        for lo in range(0, n, batch_size):
            rows = slice(lo, lo + batch_size)
            xs = tuple(_tensor(a[rows], dev).requires_grad_(True) for a in arrays)
            t = torch.as_tensor(targets[rows], device=dev)
            score = network(*xs).gather(1, t[:, None]).sum()
            for out, g in zip(grads, torch.autograd.grad(score, xs)):
                out[rows] = g.detach().cpu().numpy()
            pbar.update(len(t))
    gxi = [g * np.asarray(a, np.float32) for g, a in zip(grads, arrays)]
    return Attributions(dict(zip(branches, grads)), dict(zip(branches, gxi)))


def integrated_gradients(
    network: nn.Module,
    inputs: Mapping[str, np.ndarray],
    target: int | np.ndarray,
    baseline: str | Mapping[str, np.ndarray] = "zeros",
    steps: int = 50,
    n_shuffles: int = 5,
    noise: float = 0.0,
    n_noise: int = 0,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    random_state: int = 0,
    verbose: bool = True,
) -> IGResult:
    """Integrated gradients of the class score over every branch at once.

    Why: unlike a single gradient, the path integral accounts for saturation, and its
    attributions add up to the score difference between input and baseline
    (completeness), which ``delta`` checks.

    Parameters
    ----------
    network, inputs, target, batch_size, device, verbose
        As in :func:`saliency`; ``batch_size`` counts rows of a forward pass
        (sequence x baseline x noise sample).
    baseline : {"zeros", "shuffle"} or dict of str to numpy.ndarray
        ``"zeros"``: all-zero inputs. ``"shuffle"``: ``n_shuffles`` dinucleotide
        shuffles of each sequence, attributions averaged; other branches take their
        per-sequence, per-channel mean over positions (level kept, positional signal
        removed). A dict gives arrays per branch, ``[L, C]`` (one for all) or
        ``[N, L, C]``; branches it leaves out get zeros. Default is ``"zeros"``.
    steps : int
        Gauss-Legendre steps along the path. Default is 50.
    n_shuffles : int
        Shuffles per sequence for ``baseline="shuffle"``. Default is 5.
    noise : float
        SmoothGrad: standard deviation of Gaussian noise added to every input. Default is 0.0.
    n_noise : int
        SmoothGrad: noisy copies averaged (needs ``noise`` > 0). Default is 0.
    random_state : int
        Seed of the shuffles and the noise. Default is 0.

    Returns
    -------
    IGResult
        ``attributions`` (dict of ``[N, L, C]``), ``delta``, ``scores`` and
        ``baseline_scores`` (``[N]``; means over baselines and noise samples).
    """
    if steps < 1:
        raise LociflowError(f"Integrated gradients needs at least 1 step, got steps={steps}.")
    if noise < 0 or n_noise < 0:
        raise LociflowError(f"SmoothGrad noise and n_noise must not be negative (got {noise}, {n_noise}).")
    if noise > 0 and n_noise < 1:
        raise LociflowError("SmoothGrad noise > 0 needs n_noise >= 1 noisy copies to average; set n_noise.")
    branches, arrays, targets, dev = _setup(network, inputs, target, device)
    copies = n_noise if noise > 0 else 1
    ig = IntegratedGradients(lambda *x: network(*x), multiply_by_inputs=True)

    def attribute(xs, refs, t):
        attrs = ig.attribute(xs, baselines=refs, target=t, n_steps=steps, method="gausslegendre",
                             internal_batch_size=max(batch_size, len(t)))
        return attrs, None, None

    return IGResult(*_run_references(
        network, branches, arrays, targets, dev, baseline, n_shuffles, copies, noise, attribute,
        batch_size, random_state, "Integrated gradients", verbose, hypothetical=False,
    )[:4])


def deep_lift_shap(
    network: nn.Module,
    inputs: Mapping[str, np.ndarray],
    target: int | np.ndarray,
    n_shuffles: int = 20,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    random_state: int = 0,
    verbose: bool = True,
) -> ShapResult:
    """DeepLIFT contributions averaged over dinucleotide-shuffled references (DeepSHAP).

    Why: one backward pass per reference gives Shapley-like contributions that add up
    to the score difference, and the multipliers give hypothetical contributions of
    every base at every position, the input TF-MoDISco needs.

    captum's DeepLift applies the rescale rule to the activations it knows (ReLU, ELU,
    Sigmoid, Tanh, Softplus; max pooling passes the gradient to the maximum, as in the
    reference implementation) and cannot see inside GRU/LSTM layers; for recurrent
    networks the multipliers are therefore taken from integrated gradients (20 steps)
    against the same references, and ``method`` says so. Other activations (GELU, exp)
    pass plain gradients; ``delta`` shows what that costs.

    Parameters
    ----------
    network, inputs, target, batch_size, device, verbose
        As in :func:`saliency`; ``batch_size`` counts rows (sequence x reference).
    n_shuffles : int
        References per sequence. Default is 20.
    random_state : int
        Seed of the shuffles. Default is 0.

    Returns
    -------
    ShapResult
        ``attributions`` per branch, ``hypothetical`` for the ``seq`` branch (empty
        without one), ``delta`` (``[N]``) and ``method``.
    """
    branches, arrays, targets, dev = _setup(network, inputs, target, device)
    if is_recurrent(network):
        log.warning("DeepLIFT cannot see inside recurrent layers; using integrated-gradient multipliers instead.")
        method = "integrated_gradients"
        explainer = IntegratedGradients(lambda *x: network(*x), multiply_by_inputs=False)
        kwargs = {"n_steps": 20, "method": "gausslegendre"}
    else:
        method = "deeplift"
        explainer = _DeepLift(network, multiply_by_inputs=False)
        kwargs = {}

    def multipliers(xs, refs, t):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*hooks.*", category=UserWarning)
            warnings.filterwarnings("ignore", message=".*already been reused.*")
            if method == "integrated_gradients":
                kwargs["internal_batch_size"] = max(batch_size, len(t))
            # DeepLift scores inputs and references in one pass ([x; r]); keep those logits
            # for the completeness check instead of scoring everything again
            seen: list[torch.Tensor] = []
            hook = network.register_forward_hook(lambda module, args, out: seen.append(out.detach()))
            try:
                m = explainer.attribute(xs, baselines=refs, target=t, **kwargs)
            finally:
                hook.remove()
        scores = None
        if method == "deeplift" and len(seen) == 1 and seen[0].shape[0] == 2 * len(t):
            both = seen[0].gather(1, torch.cat([t, t])[:, None])[:, 0]
            scores = (both[:len(t)], both[len(t):])
        return tuple(mi * (x - r) for mi, x, r in zip(m, xs, refs)), m, scores

    attrs, delta, _, _, hyp = _run_references(
        network, branches, arrays, targets, dev, "shuffle", n_shuffles, 1, 0.0, multipliers,
        batch_size, random_state, "DeepLIFT/SHAP", verbose, hypothetical=True,
    )
    return ShapResult(attrs, hyp, delta, method)


def _setup(network, inputs, target, device):
    arrays = ordered_inputs(network, inputs)
    targets = targets_for(network, target, arrays[0].shape[0])
    return list(network.branches), arrays, targets, resolve_device(device)


def _tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float32), device=device)


def _references(branches, block, baseline, n_shuffles, rng) -> tuple[list[np.ndarray], int]:
    """Reference rows for a block of sequences: ``[E * S, L, C]`` per branch, and ``S``."""
    e = block[0].shape[0]
    if isinstance(baseline, Mapping):
        refs = []
        for branch, x in zip(branches, block):
            ref = np.asarray(baseline.get(branch, np.zeros(x.shape[1:], np.float32)), np.float32)
            refs.append(np.broadcast_to(ref, x.shape).copy() if ref.ndim == 2 else ref)
        return refs, 1
    if baseline == "zeros":
        return [np.zeros(x.shape, np.float32) for x in block], 1
    if baseline != "shuffle":
        raise LociflowError(f"Unknown baseline '{baseline}'; use 'zeros', 'shuffle' or a dict of arrays per branch.")
    if n_shuffles < 1:
        raise LociflowError(f"Shuffled baselines need n_shuffles >= 1, got {n_shuffles}.")
    refs = []
    for branch, x in zip(branches, block):
        if branch == SEQUENCE_BRANCH:
            ref = dinucleotide_shuffle(x, n_shuffles, rng).astype(np.float32)
        else:
            ref = np.repeat(np.broadcast_to(x.mean(axis=1, keepdims=True), x.shape)[:, None], n_shuffles, axis=1)
        refs.append(ref.reshape((e * n_shuffles,) + x.shape[1:]))
    return refs, n_shuffles


def _check_user_baseline(branches, arrays, baseline) -> None:
    if not isinstance(baseline, Mapping):
        return
    unknown = sorted(set(baseline) - set(branches))
    if unknown:
        raise LociflowError(f"The baseline names branch(es) {unknown} the model does not read; it reads {branches}.")
    for branch, x in zip(branches, arrays):
        if branch in baseline:
            shape = np.shape(baseline[branch])
            if shape not in (x.shape, x.shape[1:]):
                raise LociflowError(
                    f"Baseline for '{branch}' has shape {shape}; it must be {x.shape[1:]} or {x.shape}."
                )


def _run_references(network, branches, arrays, targets, dev, baseline, n_shuffles, copies, noise, explain,
                    batch_size, random_state, label, verbose, hypothetical):
    """Run ``explain`` over every (sequence, reference, noise copy) row; average per sequence.

    ``explain(xs, refs, t)`` returns attributions (tuple per branch), the multipliers
    (for ``hypothetical``) and the target logits of inputs and references when it has
    them (else None: they are computed here). Returns attributions, delta, scores, baseline
    scores and the hypothetical contributions (dict).
    """
    _check_user_baseline(branches, arrays, baseline)
    n = len(targets)
    attrs = [np.zeros(a.shape, np.float32) for a in arrays]
    seq_index = branches.index(SEQUENCE_BRANCH) if SEQUENCE_BRANCH in branches else None
    hyp = np.zeros(arrays[seq_index].shape, np.float32) if hypothetical and seq_index is not None else None
    delta, scores, base_scores = (np.zeros(n, np.float32) for _ in range(3))
    with attribution_mode(network, dev), progress(label, n, verbose) as pbar:
        for block_no, lo in enumerate(range(0, n, _BLOCK)):
            hi = min(n, lo + _BLOCK)
            block = [np.asarray(a[lo:hi], np.float32) for a in arrays]
            if isinstance(baseline, Mapping):
                baseline_block = {b: (v[lo:hi] if np.ndim(v) == 3 else v) for b, v in baseline.items()}
            else:
                baseline_block = baseline
            rng = np.random.default_rng([random_state, block_no])
            refs, s = _references(branches, block, baseline_block, n_shuffles, rng)
            reps = s * copies
            jitter = None
            if noise > 0:  # SmoothGrad: drawn per block from the block's generator
                jitter = [rng.standard_normal((len(x) * reps,) + x.shape[1:], dtype=np.float32) * noise
                          for x in block]
            per_batch = max(1, batch_size // reps)
            for e0 in range(0, hi - lo, per_batch):
                e1 = min(hi - lo, e0 + per_batch)
                owner = np.repeat(np.arange(e0, e1), reps)  # rows: sequence, then reference, then copy
                ref_rows = np.repeat(np.arange(e0 * s, e1 * s), copies)
                xs = tuple(_tensor(x[owner], dev) for x in block)
                if jitter is not None:
                    xs = tuple(x + _tensor(j[e0 * reps:e1 * reps], dev) for x, j in zip(xs, jitter))
                xs = tuple(x.requires_grad_(True) for x in xs)
                rs = tuple(_tensor(r[ref_rows], dev) for r in refs)
                t = torch.as_tensor(targets[lo + owner], device=dev)
                a, m, given = explain(xs, rs, t)
                with torch.no_grad():
                    if given is not None:
                        f_x, f_r = given
                    elif jitter is None:  # every reference of a sequence shares its score
                        once = tuple(_tensor(x[e0:e1], dev) for x in block)
                        t_once = torch.as_tensor(targets[lo + e0:lo + e1], device=dev)
                        f_x = network(*once).gather(1, t_once[:, None])[:, 0].repeat_interleave(reps)
                    else:
                        f_x = network(*xs).gather(1, t[:, None])[:, 0]
                    if given is None:
                        f_r = network(*rs).gather(1, t[:, None])[:, 0]
                total = sum(ai.detach().flatten(1).sum(1) for ai in a)
                rows = slice(lo + e0, lo + e1)

                def mean(v: torch.Tensor) -> np.ndarray:
                    v = v.detach().double().cpu().numpy()
                    return v.reshape((e1 - e0, reps) + v.shape[1:]).mean(axis=1)

                delta[rows], scores[rows], base_scores[rows] = mean(total - (f_x - f_r)), mean(f_x), mean(f_r)
                for out, ai in zip(attrs, a):
                    out[rows] = mean(ai)
                if hyp is not None:
                    mult, ref = m[seq_index], rs[seq_index]
                    hyp[rows] = mean(mult - (mult * ref).sum(dim=-1, keepdim=True))
                pbar.update(e1 - e0)
    hyp_dict = {SEQUENCE_BRANCH: hyp} if hyp is not None else {}
    return dict(zip(branches, attrs)), delta, scores, base_scores, hyp_dict
