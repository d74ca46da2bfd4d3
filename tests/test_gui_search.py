"""The GUI's Search page checks the space against the dataset as it is typed."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest


def errors(at) -> list[str]:
    return [e.value.replace("\\", "") for e in at.error]  # without Markdown escapes


@pytest.fixture
def root(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    monkeypatch.setenv("LOCIFLOW_GUI_OUTPUT_ROOT", str(folder))
    return folder


def test_a_mistyped_parameter_names_the_nearest_one_and_keeps_run_disabled(root, synthetic_dataset):
    data = synthetic_dataset(n=80, window=30)
    at = AppTest.from_string("from lociflow.gui.screens import search\nsearch.render()", default_timeout=60).run()
    at.text_input(key="search::data").set_value(str(data))
    at.text_area(key="search::space").set_value("learning_rat: {type: float, low: 0.001, high: 0.1}\n")
    at.run()
    assert any("did you mean 'learning_rate'" in e for e in errors(at)), errors(at)
    assert at.button(key="search::#run").disabled

    at.text_area(key="search::space").set_value("batch_size: {type: int, low: 0, high: 8}\n")
    at.run()
    assert any("batch_size = 0 cannot train" in e for e in errors(at)), errors(at)

    at.text_area(key="search::space").set_value("learning_rate: {type: float, low: 0.001, high: 0.1}\n")
    at.run()
    assert not at.exception and not at.error
    assert not at.button(key="search::#run").disabled
