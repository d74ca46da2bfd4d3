"""The interpretation dashboard: one self-contained ``index.html`` a biologist reads.

Sections: an overview (what ran, what was skipped and why); per class, the most
confident loci, each with its attribution map over every branch as a coloured sequence
(red pushes the class score up, blue down), an attribution logo, the in-silico
mutagenesis heatmap and, for recurrent models, the temporal scores; then the
class-optimized sequences, the first-layer filters with their JASPAR matches, the
TF-MoDISco motifs with theirs, and the global importance analysis plots.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from lociflow.layout import ATTRIBUTIONS_FILE, DASHBOARD_FILE
from lociflow.result_warnings import recorded_warnings

log = logging.getLogger("lociflow.interpret.dashboard")

__all__ = ["write_dashboard", "plot_locus"]

#: attribution shown in the sequence maps, best available first
_PRIMARY = (("ig", "integrated gradients"), ("deepshap", "DeepLIFT/SHAP"), ("saliency_x_input", "gradient x input"))
_SHORT = {"ig": "IG", "deepshap": "DeepSHAP", "saliency_x_input": "grad x input"}

_CSS = """
.locus { border-top: 1px solid #d1d9e0; padding-top: .6rem; margin-top: .8rem; }
.locus h3 { font-size: 1rem; margin: .2rem 0; }
.locus .facts { color: #59636e; font-size: .85rem; }
.branch { font-size: .8rem; color: #59636e; margin: .3rem 0 0; }
.logo-cell img { width: 260px; }
.note { background: #fff8c5; border: 1px solid #d4a72c; padding: .4rem .7rem; border-radius: 4px; }
.warning { background: #ffebe9; border: 1px solid #cf222e; padding: .4rem .7rem; border-radius: 4px; }
.skipped td, .skipped th { text-align: left !important; }
.wide img { width: 100%; }
table.data td.logo-cell { text-align: center; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; }
.card { border: 1px solid #d1d9e0; border-radius: 6px; padding: .4rem .6rem; width: 290px; font-size: .8rem; }
.card img { width: 100%; margin: .3rem 0; }
.card .hits { color: #59636e; }
span.strong { color: #1f2328; }
span.weak { color: #8c959f; font-size: .9em; }
.card.weak-only img { opacity: .55; }
table.restarts td.sequence { text-align: left; word-break: break-all;
                             font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .8rem; }
"""


def _primary(ctx) -> tuple[str | None, str]:
    """The attribution the sequence maps show: IG, else DeepLIFT/SHAP, else gradient x input."""
    for key, label in _PRIMARY:
        if any(f"{key}_{branch}" in ctx.arrays for branch in ctx.model.branches):
            return key, label
    return None, ""


def plot_locus(ctx, analysed_pos: int, shown_pos: int, title: str, stem: Path) -> Path | None:
    """One figure per shown locus: attribution logo, ISM heatmap, temporal scores (where computed).

    Parameters
    ----------
    ctx : Context
        The interpretation's shared loci and arrays.
    analysed_pos : int
        The locus's position among the analysed loci (rows of the attribution arrays).
    shown_pos : int
        Its position among the shown loci (rows of the ISM and temporal arrays).
    title : str
        The figure title.
    stem : Path
        The file to write, without suffix.

    Returns
    -------
    Path or None
        The PNG written, or None when no panel applies.
    """
    import logomaker
    from matplotlib.figure import Figure

    key, label = _primary(ctx)
    panels = []
    if key is not None and f"{key}_seq" in ctx.arrays:
        panels.append("logo")
    if "ism_seq" in ctx.arrays:
        panels.append("ism")
    if "temporal_forward" in ctx.arrays:
        panels.append("temporal")
    if not panels:
        return None
    letters = list(ctx.letters)
    length = ctx.model.window
    fig = Figure(figsize=(min(16, max(8, 0.09 * length)), 1.7 * len(panels) + 0.4), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    onehot = ctx.inputs["seq"][analysed_pos]
    for ax, panel in zip(axes, panels):
        if panel == "logo":
            frame = pd.DataFrame(ctx.arrays[f"{key}_seq"][analysed_pos] * onehot, columns=letters)
            logomaker.Logo(frame, ax=ax, color_scheme="classic")
            ax.set_ylabel(_SHORT[key], fontsize=8)
            ax.axhline(0, color="black", linewidth=0.5)
        elif panel == "ism":
            ism = ctx.arrays["ism_seq"][shown_pos].T
            bound = float(np.abs(ism).max()) or 1.0
            image = ax.imshow(ism, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
            ax.set_yticks(range(len(letters)), letters)
            ax.set_ylabel("ISM", fontsize=8)
            # one colour bar beside every panel keeps the panels' position axes aligned
            fig.colorbar(image, ax=list(axes), fraction=0.015, pad=0.01, label="ISM score change")
        else:
            forward = ctx.arrays["temporal_forward"][shown_pos]
            backward = ctx.arrays["temporal_backward"][shown_pos]
            ax.plot(forward, color="#c0392b", label="forward (prefix read)")
            ax.plot(backward, color="#2471a3", label="backward (suffix read)")
            for flip, colour in ((ctx.arrays["temporal_flip_forward"][shown_pos], "#c0392b"),
                                 (ctx.arrays["temporal_flip_backward"][shown_pos], "#2471a3")):
                if flip >= 0:
                    ax.axvline(flip, color=colour, linestyle=":", linewidth=1)
            ax.set_ylim(0, 1)
            ax.set_ylabel("p(class)", fontsize=8)
            ax.legend(fontsize=7, frameon=False, loc="lower right")
        ax.set_xlim(-0.5, length - 0.5)
    axes[-1].set_xlabel("position (nt)")
    axes[0].set_title(title, fontsize=9, loc="left")
    from lociflow.report import save_figure

    return save_figure(fig, stem, formats=("png",), dpi=80)[0]


def _locus_html(ctx, c: int, analysed_pos: int, shown_pos: int, rank: int, scales: dict[str, float]) -> str:
    from lociflow.report import img_tag
    from lociflow.seqmap import onehot_to_sequence, sequence_map_html

    cls = ctx.model.classes[c]
    row = int(ctx.analysed[analysed_pos])
    meta = ctx.loci.meta.iloc[row]
    name = str(meta.get("id", "") or meta.get("name", "") or f"row {row}")
    where = ""
    if str(meta.get("chrom", "")) not in ("", "nan"):
        where = f" · {meta['chrom']}:{meta.get('start', '')}-{meta.get('end', '')} ({meta.get('strand', '')})"
    p = ctx.loci.probs[row, c]
    letters = onehot_to_sequence(ctx.inputs["seq"][analysed_pos], ctx.letters) if "seq" in ctx.inputs else None
    parts = [f'<div class="locus"><h3>{rank}. {html.escape(name)}</h3>'
             f'<div class="facts">p({html.escape(cls)}) = {p:.3f}{html.escape(where)}</div>']
    key, label = _primary(ctx)
    if key is not None:
        for branch in ctx.model.branches:
            values = ctx.arrays.get(f"{key}_{branch}")
            if values is None:
                continue
            scores = values[analysed_pos].sum(axis=1)
            text = letters if letters is not None else "·" * len(scores)
            parts.append(f'<p class="branch">{html.escape(branch)} branch, {html.escape(label)}</p>')
            parts.append(sequence_map_html(text, scores, scales.get(branch)))
    figure = plot_locus(ctx, analysed_pos, shown_pos, f"{name}: p({cls}) = {p:.3f}",
                        ctx.plot_path("loci", f"class{c}_{rank:02d}"))
    if figure is not None:
        parts.append(f'<div class="wide">{img_tag(figure, alt=name)}</div>')
    parts.append("</div>")
    return "".join(parts)


def _class_section(ctx, c: int) -> str:
    from lociflow.seqmap import legend_html

    rows = ctx.shown.get(c, np.zeros(0, np.int64))
    if len(rows) == 0:
        return "<p>No locus of this class among the input.</p>"
    key, label = _primary(ctx)
    scales = {}
    if key is not None:
        for branch in ctx.model.branches:
            values = ctx.arrays.get(f"{key}_{branch}")
            if values is not None:
                scales[branch] = float(np.abs(values[rows].sum(axis=2)).max()) or 1.0
    offsets = np.cumsum([0] + [len(ctx.shown[k]) for k in sorted(ctx.shown)])
    start = offsets[sorted(ctx.shown).index(c)]
    intro = (f"<p>The {len(rows)} loci the model is most confident belong to this class. "
             + (f"Letters are coloured by {html.escape(label)} (red raises the class score, blue lowers it), "
                "on one scale per branch for the whole class.</p>" + legend_html(scales.get("seq"))
                if key else "No attribution method was run (add saliency, ig or deepshap).</p>"))
    body = [intro]
    for rank, pos in enumerate(rows, start=1):
        body.append(_locus_html(ctx, c, int(pos), int(start + rank - 1), rank, scales))
    return "".join(body)


def _overview(ctx, timings: dict[str, float]) -> str:
    from lociflow.report import key_values_html, table_html

    facts = {"model": str(ctx.model.path), "input": ctx.loci.source, "classes": ", ".join(ctx.model.classes),
             "loci read": len(ctx.loci), "loci analysed": len(ctx.analysed),
             "loci shown per class": ctx.cfg.top, "device": ctx.device}
    networks = int(ctx.model.spec.get("ensemble", 1))
    if networks > 1:
        facts["model"] += (f" (an ensemble of {networks} networks: scores and attributions are their mean; "
                           "filters are the first network's)")
    rows = [{"method": m, "status": "ran", "seconds": s, "note": ctx.notes.get(m, "")} for m, s in timings.items()]
    rows += [{"method": m, "status": "skipped", "seconds": np.nan, "note": r} for m, r in ctx.skipped.items()]
    notes = [f"<p class=\"note\">{html.escape(k)}: {html.escape(v)}</p>" for k, v in ctx.notes.items() if k not in timings]
    # what training said about trusting this model comes before anything explained with it
    cautions = "".join(f'<p class="warning">Training warning: {html.escape(line)}</p>'
                       for line in recorded_warnings(ctx.model.path))
    return (cautions + key_values_html(facts) + '<div class="skipped">'
            + table_html(pd.DataFrame(rows, columns=["method", "status", "seconds", "note"]), float_format="{:.1f}")
            + "</div>" + "".join(notes))


# Tomtom q-values above this are as likely chance as similarity: shown, but greyed and marked weak
WEAK_Q = 0.05


def _is_strong(q: float) -> bool:
    return bool(np.isfinite(q) and q <= WEAK_Q)


def _matches_html(matches: pd.DataFrame, key_column: str, key: str) -> str:
    """The matches of one filter or pattern, strongest (lowest q) first; weak ones greyed."""
    hits = matches[matches[key_column] == key] if len(matches) else matches
    if not len(hits):
        return "–"
    hits = hits.sort_values("q_value", kind="stable", na_position="last")
    lines = []
    for h in hits.itertuples():
        strong = _is_strong(h.q_value)
        lines.append(f'<span class="{"strong" if strong else "weak"}">{html.escape(str(h.jaspar_id))} '
                     f"{html.escape(str(h.name))} (q={h.q_value:.1e}, p={h.p_value:.1e})"
                     f'{"" if strong else " · weak"}</span>')
    return "<br>".join(lines)


def _has_strong_match(matches: pd.DataFrame, key_column: str, key: str) -> bool:
    return bool(len(matches)) and any(_is_strong(q) for q in matches.loc[matches[key_column] == key, "q_value"])


def _optimize_section(ctx) -> str:
    from lociflow.report import img_tag

    parts = ["<p>The sequence each class score is highest for: gradient ascent on a relaxed sequence (a "
             "probability per base and position), best of several seeded restarts. It shows what the model would "
             "like to see, often several copies of its motifs; trust the motifs, not their arrangement. "
             "Every restart is in <code>optimize.tsv</code>.</p>"]
    for cls, info in ctx.results["optimize"].items():
        result = info["result"]
        parts.append(f"<h3>{html.escape(cls)}</h3>")
        parts.extend(f'<div class="wide">{img_tag(path, alt=cls)}</div>' for path in info["logos"])
        rows = "".join(f'<tr><td>{rank}</td><td>{score:.2f}</td><td class="sequence">{html.escape(seq)}</td></tr>'
                       for rank, (seq, score) in enumerate(zip(result.sequences, result.scores), start=1))
        parts.append(f'<table class="data restarts"><tr><th>restart</th><th>class score</th><th>sequence</th></tr>'
                     f"{rows}</table>")
    return "".join(parts)


def _filters_section(ctx) -> str:
    from lociflow.interpretation.filters import interpretable_first_layer
    from lociflow.report import img_tag

    info = ctx.results["filters"]
    summary, matches, logos = info["summary"], info["matches"], info["logos"]
    min_bits = ctx.options["filters"]["min_information"]
    cards = []
    for r in summary.itertuples():
        if r.filter not in logos:
            continue
        bits = "" if r.information_content != r.information_content else f" · {r.information_content:.1f} bits"
        if not r.informative:
            hits = (f"<i>too little information to match to known motifs (under {min_bits:g} bits against the "
                    f"data's base composition)</i>")
            weak = " weak-only"
        else:
            hits = _matches_html(matches, "filter", r.filter)
            weak = "" if _has_strong_match(matches, "filter", r.filter) else " weak-only"
        cards.append(
            f'<div class="card{weak}"><b>{html.escape(r.filter)}</b> · {r.n_sites} sites · influence {r.influence:.3f}'
            f"{bits}{img_tag(logos[r.filter], alt=r.filter)}<div class=\"hits\">{hits}</div></div>"
        )
    built, first_layer = interpretable_first_layer(ctx.model.architecture)
    caution = "" if built else (
        f'<p class="note"><b>Read these filters with care:</b> this model was not built for filter analysis '
        f"({html.escape(first_layer)}), so its filters often hold parts of motifs that deeper layers assemble. "
        f"The TF-MoDISco motifs and the attribution maps show what it uses more faithfully; train with "
        f"<code>preset: interpretable</code> (exponential activation, wide pooling) for filters that show whole "
        f"motifs.</p>")
    return (caution + f"<p>First-layer filters of the seq branch, most influential first. Each logo counts the input windows "
            f"that activate the filter above half its largest activation. <b>Influence</b> is how much the "
            f"predicted class probabilities change when the filter is silenced (its output set to zero), as a "
            f"share of the whole probability averaged over loci: 0.05 means 5 percentage points. Matches: Tomtom "
            f"against {html.escape(ctx.database().source)}, lowest q-value first; a match with q above {WEAK_Q} is "
            f"greyed and marked weak (as likely chance as real similarity: long or repetitive motifs such as CTCF "
            f"match many filters weakly), and a filter with only weak matches has a faded logo. <b>Bits</b> is the "
            f"information of the filter's trimmed PWM against the data's base composition; a filter under "
            f"{min_bits:g} bits prefers letters rather than a motif and is not matched. All filters are in "
            f"<code>filters.tsv</code>, every match in <code>filters_tomtom.tsv</code>.</p>"
            f'<div class="cards">{"".join(cards)}</div>')


def _best_match(matches: pd.DataFrame, key_column: str, key: str):
    """The lowest-q match of a filter or pattern, or None."""
    hits = matches[matches[key_column] == key] if len(matches) else matches
    if not len(hits):
        return None
    return hits.sort_values("q_value", kind="stable", na_position="last").iloc[0]


def _strong_motif_ids(matches: pd.DataFrame, key_column: str, key: str) -> set[str]:
    """The JASPAR IDs (without version) among the strong matches of one filter or pattern."""
    if not len(matches) or key_column not in matches:
        return set()
    hits = matches[(matches[key_column] == key) & (matches["q_value"] <= WEAK_Q)]
    return {str(i).split(".")[0] for i in hits["jaspar_id"]}


def agreeing_filters(filters: dict, pattern_matches: pd.DataFrame, pattern: str) -> list[str]:
    """The informative filters that show the same motif as a TF-MoDISco pattern.

    A filter agrees with a pattern when one JASPAR motif is among the strong (q <= 0.05)
    matches of both, of the top matches each keeps: so a filter whose best match is ELF2
    agrees with a pattern matched to ELK4 first and ELF2 second, both ETS motifs, where
    comparing best matches alone would miss it.

    Parameters
    ----------
    filters : dict
        The filters result: ``summary`` (``filter, informative, q_value, best_match``, most
        influential first) and, when present, ``matches`` (``filters_tomtom.tsv``).
    pattern_matches : pandas.DataFrame
        ``modisco_tomtom.tsv``.
    pattern : str
        The pattern's key there (``class/pattern``).

    Returns
    -------
    list of str
        Filter names, in the summary's order.
    """
    wanted = _strong_motif_ids(pattern_matches, "pattern", pattern)
    if not wanted:
        return []
    summary, matches = filters["summary"], filters.get("matches")
    informative = summary[summary["informative"]]
    if matches is None or not len(matches):  # best matches only
        return [row.filter for row in informative.itertuples()
                if row.q_value <= WEAK_Q and str(row.best_match).split(".")[0] in wanted]
    return [name for name in informative["filter"] if _strong_motif_ids(matches, "filter", name) & wanted]


def _motifs_found_section(ctx) -> str:
    """What the model uses, per class, first: each TF-MoDISco pattern with its logo, best
    JASPAR match, seqlets, the filters that match the same motif, and its GIA effect."""
    from lociflow.interpretation.motifdb import consensus
    from lociflow.interpretation.motifs import trim_pattern
    from lociflow.report import img_tag

    modisco = ctx.results.get("modisco") or {}
    filters = ctx.results.get("filters")
    matches = ctx.tables.get("modisco_tomtom.tsv", pd.DataFrame())
    gia = {str(label): result for label, result in (ctx.results.get("gia") or {}).items()}
    parts = ["<p>The motifs the model uses, per class, as TF-MoDISco found them in the DeepLIFT/SHAP "
             "contributions (the evidence that matters: what moves the predictions), each with its best "
             "JASPAR match, the number of seqlets (contribution peaks) it is built from, the first-layer "
             "filters that match one of the same JASPAR motifs, and the class-score change when it is inserted "
             "into shuffled loci (global importance analysis). Details follow further down.</p>"]
    rows = []
    for cls, info in modisco.items():
        positive = [p for p in info["patterns"] if p.sign > 0][:3]
        if not positive:
            rows.append(f'<tr><td>{html.escape(cls)}</td><td colspan="5" style="text-align:left">'
                        f'{html.escape(info.get("note") or "no motif found")}</td></tr>')
            continue
        for p in positive:
            key = f"{cls}/{p.name}"
            best = _best_match(matches, "pattern", key)
            if best is None:
                match = "no JASPAR match"
            else:
                strength = "strong" if _is_strong(best.q_value) else "weak"
                match = (f'<span class="{strength}">{html.escape(str(best["name"]))} {html.escape(str(best.jaspar_id))} '
                         f"(q={best.q_value:.1e}){'' if strength == 'strong' else ' · weak'}</span>")
            agreeing = "–"
            if filters is not None and best is not None and _is_strong(best.q_value):
                agreeing = ", ".join(agreeing_filters(filters, matches, key)[:5]) or "none"
            letters = consensus(trim_pattern(p)[0], ctx.letters)
            effect = "–"
            label = _gia_label(letters, gia)
            if label is not None:
                k = ctx.model.classes.index(cls)
                result = gia[label]
                effect = f"{float(result.effect[k]):+.2f} (control {float(result.control[k]):+.2f})"
            cwm = info["logos"][key][0]
            rows.append(f"<tr><td>{html.escape(cls)}</td><td class=\"logo-cell\">{img_tag(cwm, alt=key)}"
                        f"<br><code>{html.escape(letters)}</code></td><td style=\"text-align:left\">{match}</td>"
                        f"<td>{p.n_seqlets}</td><td>{html.escape(agreeing)}</td><td>{effect}</td></tr>")
    head = ("<tr><th>class</th><th>motif (contribution logo)</th><th>best JASPAR match</th><th>seqlets</th>"
            "<th>filters matching it</th><th>GIA effect on the class score</th></tr>")
    parts.append(f'<table class="data">{head}{"".join(rows)}</table>')
    return "".join(parts)


def _gia_label(letters: str, gia: dict) -> str | None:
    """The GIA motif tested for a pattern (GIA labels discovered motifs by their consensus)."""
    for label in gia:
        plain = label.replace("U", "T")
        if plain == letters.replace("U", "T"):
            return label
    return None


def _modisco_section(ctx) -> str:
    from lociflow.report import img_tag

    parts = []
    for cls, info in ctx.results["modisco"].items():
        parts.append(f"<h3>{html.escape(cls)} ({info['loci']} loci)</h3>")
        if not info["patterns"]:  # a made class is labelled, not warned about
            style = "" if info.get("expected") else ' class="note"'
            parts.append(f'<p{style}>{html.escape(info["note"])}</p>')
            continue
        matches = ctx.tables["modisco_tomtom.tsv"]
        rows = []
        for p in info["patterns"]:
            key = f"{cls}/{p.name}"
            cwm, ppm = info["logos"][key]
            rows.append(f"<tr><td>{html.escape(p.name)}</td><td>{p.n_seqlets}</td>"
                        f"<td class=\"logo-cell\">{img_tag(cwm, alt=key)}</td><td class=\"logo-cell\">{img_tag(ppm, alt=key)}</td>"
                        f"<td style=\"text-align:left\">{_matches_html(matches, 'pattern', key)}</td></tr>")
        head = ("<tr><th>pattern</th><th>seqlets</th><th>contribution (CWM)</th><th>letters (PPM)</th>"
                f"<th>JASPAR matches (greyed: weak, q &gt; {WEAK_Q})</th></tr>")
        parts.append(f'<table class="data">{head}{"".join(rows)}</table>')
    return "".join(parts)


def _figures_section(ctx, key: str, intro: str, table: str | None = None) -> str:
    from lociflow.report import figures_html, table_html

    body = f"<p>{intro}</p>"
    if key in ctx.notes:
        body += f'<p class="note">{html.escape(ctx.notes[key])}</p>'
    if ctx.figures.get(key):
        body += figures_html(ctx.figures[key])
    if table and table in ctx.tables and len(ctx.tables[table]):
        body += table_html(ctx.tables[table], float_format="{:.3g}")
    return body


def _files_section(ctx) -> str:
    names = sorted(p.name for p in ctx.folder.iterdir() if p.is_file() and not p.name.startswith("."))
    names = sorted(set(names) | {DASHBOARD_FILE, ATTRIBUTIONS_FILE, "methods.tsv", "loci.tsv", *ctx.tables})
    items = "".join(f"<li><code>{html.escape(n)}</code></li>" for n in names)
    return (f"<p>Raw arrays (<code>attributions.npz</code>: {', '.join(sorted(ctx.arrays)) or 'none'}; "
            "plus <code>index</code>, <code>target</code>, <code>shown</code>) and tables beside this page; "
            "PNG and SVG plots under <code>plots/</code>.</p>"
            f"<ul>{items}</ul>")


def write_dashboard(ctx, timings: dict[str, float]) -> Path:
    """Write ``index.html`` into the run folder and return its path.

    Parameters
    ----------
    ctx : Context
        The interpretation's shared loci, results, tables and figures.
    timings : dict of str to float
        Seconds each method took, by method name (shown in the overview).

    Returns
    -------
    Path
        The dashboard page.
    """
    from lociflow.io.atomic import write_text
    from lociflow.report import html_page
    from lociflow.seqmap import SEQMAP_CSS

    sections = [("Overview", _overview(ctx, timings))]
    if "modisco" in ctx.results:
        sections.append(("Motifs the model uses", _motifs_found_section(ctx)))
    if "seq" in ctx.inputs:
        for c, cls in enumerate(ctx.model.classes):
            sections.append((f"Class {cls}: most confident loci", _class_section(ctx, c)))
    if "optimize" in ctx.results:
        sections.append(("Class optimization", _optimize_section(ctx)))
    if "filters" in ctx.results:
        sections.append(("Filters", _filters_section(ctx)))
    if "modisco" in ctx.results:
        sections.append(("Motifs (TF-MoDISco)", _modisco_section(ctx)))
    if "gia" in timings:
        sections.append(("Global importance analysis", _figures_section(
            ctx, "gia", "Mean change of each class score (logit) when a motif is inserted into dinucleotide "
            "shuffles of real loci; the control inserts the motif's own shuffle at the same place.", "gia.tsv")))
    sections.append(("Files", _files_section(ctx)))
    page = html_page("lociflow interpretation", sections, subtitle=f"{ctx.model.path} on {ctx.loci.source}",
                     extra_css=SEQMAP_CSS + _CSS)
    path = ctx.folder / DASHBOARD_FILE
    write_text(path, page)
    return path
