"""Integrated-gradients attributions for every predicted locus, streamed to disk.

Used by ``lociflow predict --attribute ig``: each chunk's attributions
(:func:`lociflow.interpretation.attribution.integrated_gradients` over all branches at
once, an all-zero baseline, the target being the locus's top class) are appended to one
raw file per branch, so memory stays bounded; :meth:`AttributionCollector.finish` packs them into ``attributions.npz``
(rows in the order of ``predictions.tsv``) without loading them, and renders the most
confident loci per class as coloured sequence maps in ``attributions.html``.

The all-zero baseline is the encoding of an unknown base (N), so the attributions
explain the prediction relative to "no sequence information".
"""

from __future__ import annotations

import heapq
import html
import logging
import zipfile
from pathlib import Path

import numpy as np

from lociflow.interpretation.attribution import integrated_gradients
from lociflow.io.atomic import atomic_open, write_text
from lociflow.layout import ATTRIBUTIONS_FILE, ATTRIBUTIONS_PAGE

log = logging.getLogger("lociflow.attribute_ig")

TOP_PER_CLASS = 10


class AttributionCollector:
    """Collects attributions chunk by chunk; :meth:`finish` writes the npz and the HTML page.

    Parameters
    ----------
    model : LoadedModel
        The model (its network, branches, channels, classes and window).
    folder : Path
        The run folder; raw per-branch files are kept there until :meth:`finish`.
    steps : int
        Integrated-gradients steps. Default is 32.
    batch_size : int
        Loci attributed at once. Default is 256.
    """

    def __init__(self, model, folder: Path, steps: int = 32, batch_size: int = 256):
        self.model = model
        self.folder = Path(folder)
        self.steps = steps
        self.batch_size = batch_size
        self.rows = 0
        self.targets: list[np.ndarray] = []
        self.raw = {b: self.folder / f".ig_{b}.f32" for b in model.branches}
        self.handles = {b: open(path, "wb") for b, path in self.raw.items()}  # noqa: SIM115 - closed in finish
        self.best: dict[int, list] = {k: [] for k in range(len(model.classes))}
        self.device = getattr(model, "device", "cpu")

    def add(self, inputs: dict[str, np.ndarray], probs: np.ndarray, offset: int, ids: list | None = None) -> None:
        """Attribute one chunk (rows ``offset`` onwards) and keep its most confident loci.

        The target of each locus is its top class.

        Parameters
        ----------
        inputs : dict of str to numpy.ndarray
            The chunk's inputs per branch.
        probs : numpy.ndarray
            The chunk's predicted probabilities [n, K].
        offset : int
            The row of the chunk's first locus in ``predictions.tsv``.
        ids : list or None
            The loci's ids, shown on the HTML page. Default is None (no ids).
        """
        branches = self.model.branches
        targets = probs.argmax(axis=1)
        n = len(targets)
        for lo in range(0, n, self.batch_size):
            hi = min(n, lo + self.batch_size)
            batch = {b: np.asarray(inputs[b][lo:hi], dtype=np.float32) for b in branches}
            result = integrated_gradients(self.model.network, batch, targets[lo:hi], baseline="zeros",
                                          steps=self.steps, batch_size=self.batch_size, device=self.device,
                                          verbose=False)
            attrs = [result.attributions[b] for b in branches]
            for branch, array in zip(branches, attrs):
                self.handles[branch].write(np.ascontiguousarray(array, dtype="<f4").tobytes())
            self._keep_best(inputs, attrs, probs, targets, lo, hi, offset, ids)
        self.targets.append(targets.astype(np.int64))
        self.rows += n

    def _keep_best(self, inputs, attrs, probs, targets, lo, hi, offset, ids) -> None:
        for i in range(lo, hi):
            k = int(targets[i])
            key = (float(probs[i, k]), -(offset + i))
            heap = self.best[k]
            if len(heap) == TOP_PER_CLASS and key <= heap[0][0]:
                continue
            record = {
                "row": offset + i,
                "id": str(ids[i]) if ids is not None else "",
                "prob": float(probs[i, k]),
                "sequence": self._letters(inputs, i),
                "scores": {b: a[i - lo].sum(axis=-1).astype(np.float32) for b, a in zip(self.model.branches, attrs)},
            }
            item = (key, offset + i, record)
            if len(heap) < TOP_PER_CLASS:
                heapq.heappush(heap, item)
            else:
                heapq.heapreplace(heap, item)

    def _letters(self, inputs, i: int) -> str:
        from lociflow.seqmap import onehot_to_sequence

        if "seq" in inputs:
            return onehot_to_sequence(inputs["seq"][i], list(self.model.channels["seq"]))
        return "·" * int(self.model.window)

    def close(self) -> None:
        """Close and remove the raw files (after :meth:`finish`, or when the run fails)."""
        for handle in self.handles.values():
            handle.close()
        for path in self.raw.values():
            path.unlink(missing_ok=True)

    def finish(self) -> tuple[Path, Path]:
        """Write ``attributions.npz`` and ``attributions.html``; remove the raw files."""
        for handle in self.handles.values():
            handle.flush()
        npz = self.folder / ATTRIBUTIONS_FILE
        targets = np.concatenate(self.targets) if self.targets else np.zeros(0, np.int64)
        with atomic_open(npz, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for branch in self.model.branches:
                shape = (self.rows, int(self.model.window), len(self.model.channels[branch]))
                _write_member(zf, branch, self.raw[branch], shape)
            _write_array(zf, "target", targets)
            _write_array(zf, "classes", np.array(list(self.model.classes)))
            _write_array(zf, "branches", np.array(list(self.model.branches)))
        self.close()
        page = self.folder / ATTRIBUTIONS_PAGE
        write_text(page, self.render())
        return npz, page

    def render(self) -> str:
        """The HTML page of the most confident loci per class, as coloured sequence maps."""
        from lociflow.report import html_page
        from lociflow.seqmap import SEQMAP_CSS, legend_html, sequence_map_html

        sections = []
        for k, name in enumerate(self.model.classes):
            loci = [item[2] for item in sorted(self.best[k], key=lambda it: it[0], reverse=True)]
            if not loci:
                sections.append((f"Class {name}", "<p>No locus has this class as its most likely one.</p>"))
                continue
            parts = [legend_html()]
            for record in loci:
                for branch in self.model.branches:
                    label = (f"row {record['row'] + 1} {html.escape(record['id'])} · P({html.escape(name)}) = "
                             f"{record['prob']:.3f} · branch {html.escape(branch)}")
                    parts.append(f'<div class="seqmap-label">{label}</div>')
                    parts.append(sequence_map_html(record["sequence"], record["scores"][branch]))
            sections.append((f"Class {name}", "".join(parts)))
        subtitle = (f"Integrated gradients ({self.steps} steps, all-zero baseline) for the top class of each "
                    f"locus; the {TOP_PER_CLASS} most confident loci per class. Red: raises the class's score; "
                    "blue: lowers it. Hover a letter for its position and score.")
        return html_page("Attributions of the most confident loci", sections, subtitle=subtitle, extra_css=SEQMAP_CSS)


def _write_member(zf: zipfile.ZipFile, name: str, raw: Path, shape: tuple[int, ...]) -> None:
    """Copy a raw float32 file into the archive as ``name.npy`` without loading it."""
    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    with zf.open(f"{name}.npy", "w", force_zip64=True) as member, open(raw, "rb") as source:
        np.lib.format.write_array_header_1_0(member, header)
        while block := source.read(1 << 24):
            member.write(block)


def _write_array(zf: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
