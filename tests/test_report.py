"""Figures, HTML pages, curve points and sequence maps shared by the reports."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from lociflow.evaluation import curves
from lociflow.report import (
    figures_html,
    html_page,
    img_tag,
    new_figure,
    save_figure,
    table_html,
)
from lociflow.seqmap import onehot_to_sequence, sequence_map_html


def _figure():
    fig = new_figure(3, 2)
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [1, 0, 2], label="line")
    ax.set_title("a figure")
    return fig


def test_save_figure_writes_each_format_atomically_and_identically(tmp_path):
    first = save_figure(_figure(), tmp_path / "one" / "plot")
    second = save_figure(_figure(), tmp_path / "two" / "plot")
    assert [p.name for p in first] == ["plot.png", "plot.svg"]
    assert first[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in first[1].read_bytes()
    # no temporary files left, and the same figure gives the same bytes
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["plot.png", "plot.svg"]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_img_tag_embeds_the_file_bytes(tmp_path):
    png, svg = save_figure(_figure(), tmp_path / "plot")
    tag = img_tag(png, alt="ROC <curve>")
    data = re.search(r'src="data:image/png;base64,([^"]+)"', tag).group(1)
    assert base64.b64decode(data) == png.read_bytes()
    assert 'alt="ROC &lt;curve&gt;"' in tag
    assert "image/svg+xml" in img_tag(svg)
    with pytest.raises(ValueError, match="unknown image type"):
        img_tag(tmp_path / "plot.tiff")


def test_html_page_is_self_contained_and_escaped(tmp_path):
    png, _ = save_figure(_figure(), tmp_path / "plot")
    page = html_page("Results <1>", [("Table", table_html(pd.DataFrame({"a": [0.123456, np.nan]}))),
                                    ("Plots", figures_html([(png, "a caption")]))], subtitle="x & y")
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Results &lt;1&gt;</title>" in page and "x &amp; y" in page
    assert 'href="#s0"' in page and 'id="s1"' in page
    assert "0.1235" in page and "–" in page  # float format and missing value
    assert "data:image/png;base64," in page and "a caption" in page
    # nothing is fetched from elsewhere
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_roc_points_match_sklearn_for_every_class_plus_averages():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 200)
    probs = rng.dirichlet([1, 1, 1], 200)
    probs[np.arange(200), labels] += 0.3
    probs /= probs.sum(1, keepdims=True)
    points = curves.roc_points(labels, probs, ["a", "b", "c"])
    assert list(points.columns) == ["class", "x", "y", "threshold"]
    assert list(dict.fromkeys(points["class"])) == ["a", "b", "c", "micro", "macro"]
    fpr, tpr, thr = skm.roc_curve(labels == 1, probs[:, 1])
    b = points[points["class"] == "b"]
    np.testing.assert_allclose(b["x"], fpr)
    np.testing.assert_allclose(b["y"], tpr)
    # the area under each class curve is sklearn's AUROC; the macro curve's is close to the mean
    assert np.trapezoid(b["y"], b["x"]) == pytest.approx(skm.roc_auc_score(labels == 1, probs[:, 1]))
    macro = points[points["class"] == "macro"]
    mean_auc = np.mean([skm.roc_auc_score(labels == k, probs[:, k]) for k in range(3)])
    assert np.trapezoid(macro["y"], macro["x"]) == pytest.approx(mean_auc, abs=0.01)
    assert macro["threshold"].isna().all()


def test_pr_points_end_at_full_recall_and_match_sklearn():
    labels = np.array([0, 0, 1, 1, 1, 0])
    p1 = np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.2])
    probs = np.stack([1 - p1, p1], 1)
    points = curves.pr_points(labels, probs, ["neg", "pos"])
    pos = points[points["class"] == "pos"]
    precision, recall, _ = skm.precision_recall_curve(labels == 1, p1, drop_intermediate=True)
    np.testing.assert_allclose(pos["x"], recall)
    np.testing.assert_allclose(pos["y"], precision)
    assert set(points["class"]) == {"neg", "pos", "micro", "macro"}


def test_a_class_absent_from_the_labels_has_no_curve():
    labels = np.array([0, 1, 0, 1])
    probs = np.full((4, 3), 1 / 3)
    points = curves.roc_points(labels, probs, ["a", "b", "c"])
    assert "c" not in set(points["class"])
    assert curves.roc_points(np.zeros(3, int), np.full((3, 2), 0.5), ["a", "b"]).empty


def test_calibration_bins_count_every_locus_and_measure_the_gap():
    labels = np.array([0] * 50 + [1] * 50)
    p0 = np.r_[np.full(50, 0.95), np.full(50, 0.25)]
    points = curves.calibration_points(labels, np.stack([p0, 1 - p0], 1), ["a", "b"])
    assert points.groupby("class")["count"].sum().to_dict() == {"a": 100, "b": 100}
    a = points[points["class"] == "a"].set_index("bin")
    assert a.loc[9, "fraction_positive"] == 1.0 and a.loc[2, "fraction_positive"] == 0.0
    ece = curves.expected_calibration_error(points)
    assert ece["a"] == pytest.approx((0.05 * 50 + 0.25 * 50) / 100)


def test_plots_draw_for_three_classes(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 90)
    probs = rng.dirichlet([1, 1, 1], 90)
    classes = ["a", "b", "c"]
    for stem, fig in {
        "roc": curves.plot_curves(curves.roc_points(labels, probs, classes), "roc", {"a": 0.5}),
        "pr": curves.plot_curves(curves.pr_points(labels, probs, classes), "pr", baseline=1 / 3),
        "cal": curves.plot_calibration(curves.calibration_points(labels, probs, classes), classes),
        "cm": curves.plot_confusion(skm.confusion_matrix(labels, probs.argmax(1)), classes),
    }.items():
        assert save_figure(fig, tmp_path / stem, formats=("png",))[0].stat().st_size > 5000


def test_sequence_map_colours_high_red_and_low_blue():
    html = sequence_map_html("ACG<", np.array([1.0, -1.0, 0.0, 0.5]))
    spans = re.findall(r'background:(#[0-9a-f]{6})', html)
    red, blue, white = (int(spans[i][1:3], 16) - int(spans[i][5:7], 16) for i in range(3))
    assert red > 50 and blue < -50 and abs(white) < 10
    assert "&lt;" in html and 'title="1: 1"' in html
    with pytest.raises(ValueError, match="3 letters but 2 scores"):
        sequence_map_html("ACG", np.zeros(2))


def test_onehot_to_sequence_writes_n_for_all_zero_positions():
    onehot = np.zeros((4, 4), np.uint8)
    onehot[0, 0] = onehot[1, 3] = onehot[3, 2] = 1
    assert onehot_to_sequence(onehot, ["A", "C", "G", "U"]) == "AUNG"


# --------------------------------------------------------------------------- two classes


def test_positive_class_is_the_first_or_the_named_one_and_only_for_two_classes():
    from lociflow.errors import ConfigError

    assert curves.positive_class(["bound", "unbound"]) == "bound"
    assert curves.positive_class(["bound", "unbound"], "unbound") == "unbound"
    assert curves.positive_class(["a", "b", "c"]) is None
    with pytest.raises(ConfigError, match="'bond' is not a class of the model; give one of 'bound', 'unbound'"):
        curves.positive_class(["bound", "unbound"], "bond")


def test_tied_share_counts_loci_sharing_a_score():
    assert curves.tied_share(np.array([0.1, 0.2, 0.2, 0.3])) == 0.5
    assert curves.tied_share(np.array([0.1, 0.2])) == 0.0


def _drawn_area(line) -> float:
    from matplotlib.cbook import pts_to_poststep

    x, y = line.get_xdata(), line.get_ydata()
    if line.get_drawstyle() == "steps-post":
        x, y = pts_to_poststep(x, y)
    return abs(np.trapezoid(y, x))


def test_curves_are_drawn_as_their_areas_are_computed_even_over_tied_scores():
    labels = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    scores = np.array([0.9, 0.7, 0.7, 0.7, 0.7, 0.2, 0.4, 0.1])  # four loci tie at 0.7
    probs = np.c_[scores, 1 - scores]
    classes = ["bound", "unbound"]
    metrics = {"classes": classes, "auroc": {"bound": skm.roc_auc_score(labels == 0, scores)},
               "auprc": {"bound": skm.average_precision_score(labels == 0, scores)}}
    figures = curves.curve_figures(curves.roc_points(labels, probs, classes), curves.pr_points(labels, probs, classes),
                                   metrics, labels, probs, positive="bound")
    (roc_stem, roc, roc_caption), (pr_stem, pr, pr_caption) = figures
    assert (roc_stem, pr_stem) == ("roc_curve", "pr_curve")
    roc_lines = [line for line in roc.axes[0].get_lines() if line.get_label().startswith("bound")]
    pr_lines = [line for line in pr.axes[0].get_lines() if line.get_label().startswith("bound")]
    # one curve each, the positive class's, and nothing else in the legend
    assert len(roc_lines) == len(pr_lines) == 1
    assert [t.get_text() for t in pr.axes[0].get_legend().get_texts()] == [f"bound (AUPRC {metrics['auprc']['bound']:.3f})"]
    assert roc.axes[0].get_title() == "ROC curve: bound vs unbound"
    # the drawn areas are AUROC and AUPRC: the tie is a diagonal on ROC, a flat step on PR
    assert _drawn_area(roc_lines[0]) == pytest.approx(metrics["auroc"]["bound"])
    assert _drawn_area(pr_lines[0]) == pytest.approx(metrics["auprc"]["bound"])
    assert "50% of the loci share their score" in roc_caption and "share of bound loci (0.50)" in pr_caption


def test_three_classes_keep_a_curve_per_class_and_the_averages():
    rng = np.random.default_rng(1)
    labels, probs, classes = rng.integers(0, 3, 60), rng.dirichlet([1, 1, 1], 60), ["a", "b", "c"]
    from lociflow.metrics import classification_metrics

    metrics = classification_metrics(labels, probs, classes)
    figures = curves.curve_figures(curves.roc_points(labels, probs, classes), curves.pr_points(labels, probs, classes),
                                   metrics, labels, probs, positive=None)
    legend = [t.get_text().split(" ")[0] for t in figures[0][1].axes[0].get_legend().get_texts()]
    assert legend == ["a", "b", "c", "micro", "macro"]
    assert set(curves.headline(metrics)) >= {"AUROC (macro)", "AUROC (micro)"}
