"""Public functions document their parameters in one shape: numpy style.

Why: the code base had three docstring shapes (numpy sections, prose
"``config`` : a dict ..." lines and bare one-liners), so a reader could not
rely on finding what a parameter means or what its default is.  This test
walks the modules in ``CHECKED_MODULES`` with :mod:`ast` (nothing is
imported) and requires every public function or method that takes
parameters to have a ``Parameters`` section naming each of them.  Grow
``CHECKED_MODULES`` as more of ``src/`` is converted.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Paths relative to src/.  Keep this the one list of converted modules.
CHECKED_MODULES = (
    "lociflow/model/spec.py",
    "lociflow/io/vcf.py",
    "lociflow/variation/alleles.py",
    "lociflow/variation/run.py",
    "lociflow/variation/page.py",
    "lociflow/variation/strands.py",
    "lociflow/scanning/run.py",
    "lociflow/scanning/windows.py",
    "lociflow/scanning/tracks.py",
    "lociflow/model/plan.py",
    "lociflow/model/summary.py",
    "lociflow/model/network.py",
    "lociflow/model/layers.py",
    "lociflow/model/presets.py",
    "lociflow/model/inputs.py",
    "lociflow/model/shapes.py",
    "lociflow/model/device.py",
    "lociflow/interpretation/scoring.py",
    "lociflow/interpretation/fastism.py",
    "lociflow/interpretation/gia.py",
    "lociflow/interpretation/loci.py",
    "lociflow/interpretation/motifdb.py",
    "lociflow/interpretation/temporal.py",
    "lociflow/interpretation/attribution.py",
    "lociflow/interpretation/mutagenesis.py",
    "lociflow/interpretation/shuffle.py",
    "lociflow/interpretation/motifs.py",
    "lociflow/metrics.py",
    "lociflow/searching/__init__.py",
    "lociflow/searching/names.py",
    "lociflow/searching/outputs.py",
    "lociflow/searching/params.py",
    "lociflow/searching/run.py",
    "lociflow/searching/space.py",
    "lociflow/searching/study.py",
    "lociflow/searching/trial.py",
    "lociflow/configfile.py",
    "lociflow/config.py",
    "lociflow/layout.py",
    "lociflow/io/atomic.py",
)

# Hooks called by a framework, whose parameters the framework documents:
# nn.Module.forward and the Lightning step hooks.  Names starting with
# ``on_`` (Lightning callbacks) are allowed too, see ``is_hook``.
HOOKS = frozenset(
    {
        "forward",
        "training_step",
        "validation_step",
        "test_step",
        "predict_step",
    }
)

# Decorators whose function pydantic calls with its own arguments.
VALIDATOR_DECORATORS = frozenset({"model_validator", "field_validator", "field_serializer"})

_UNDERLINE = re.compile(r"^-{3,}\s*$")
_ENTRY = re.compile(r"^(?P<names>\*{0,2}\w+(\s*,\s*\*{0,2}\w+)*)\s*(:(\s|$)|$)")


def is_hook(name: str) -> bool:
    """Whether ``name`` is a framework hook that may keep a one-line docstring.

    Parameters
    ----------
    name : str
        The function or method name.

    Returns
    -------
    bool
        True for the names in ``HOOKS`` and Lightning's ``on_*`` hooks.
    """
    return name in HOOKS or name.startswith("on_")


def documented_parameters(docstring: str | None) -> set[str] | None:
    """The parameter names a numpy ``Parameters`` section lists.

    Parameters
    ----------
    docstring : str or None
        A docstring, already dedented (as :func:`ast.get_docstring` gives it).

    Returns
    -------
    set of str or None
        The names of the entries (``a, b : ...`` counts both, leading ``*``
        of ``*args``/``**opts`` stripped), or None when there is no
        ``Parameters`` section.
    """
    if not docstring:
        return None
    lines = docstring.splitlines()
    for i in range(len(lines) - 1):
        if lines[i].strip() == "Parameters" and _UNDERLINE.match(lines[i + 1].strip()):
            indent = len(lines[i]) - len(lines[i].lstrip())
            start = i + 2
            break
    else:
        return None
    names: set[str] = set()
    for j in range(start, len(lines)):
        line = lines[j]
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) > indent:
            continue  # description of an entry
        if j + 1 < len(lines) and _UNDERLINE.match(lines[j + 1].strip()):
            break  # next section header
        m = _ENTRY.match(line.strip())
        if m:
            names.update(n.strip().lstrip("*") for n in m.group("names").split(",") if n.strip())
    return names


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    out = set()
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute):
            out.add(target.attr)
        elif isinstance(target, ast.Name):
            out.add(target.id)
    return out


def parameter_names(node: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    """The parameters a docstring must name: all but a method's self/cls.

    Parameters
    ----------
    node : ast.FunctionDef or ast.AsyncFunctionDef
        The function.
    method : bool
        Whether it is defined in a class body; then its first positional
        parameter (``self``/``cls``) is left out unless it is a staticmethod.

    Returns
    -------
    list of str
        Parameter names without ``*``/``**``.
    """
    a = node.args
    positional = [p.arg for p in a.posonlyargs + a.args]
    if method and "staticmethod" not in _decorator_names(node) and positional:
        positional = positional[1:]
    names = positional + [p.arg for p in a.kwonlyargs]
    if a.vararg:
        names.append(a.vararg.arg)
    if a.kwarg:
        names.append(a.kwarg.arg)
    return names


def undocumented(source: str, module: str = "<string>") -> list[str]:
    """Public functions in ``source`` whose docstring misses parameters.

    Parameters
    ----------
    source : str
        Python source text of one module.
    module : str
        Name used in the messages. Default is ``"<string>"``.

    Returns
    -------
    list of str
        One ``"module:line name: ..."`` message per offending function;
        empty when every public function is documented.
    """
    problems = []

    def visit(body: list[ast.stmt], prefix: str, method: bool) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                if not node.name.startswith("_"):
                    visit(node.body, f"{prefix}{node.name}.", True)
                continue
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if node.name.startswith("_") or is_hook(node.name):
                continue
            if _decorator_names(node) & VALIDATOR_DECORATORS:
                continue
            if "overload" in _decorator_names(node):
                continue
            wanted = parameter_names(node, method)
            if not wanted:
                continue
            where = f"{module}:{node.lineno} {prefix}{node.name}"
            found = documented_parameters(ast.get_docstring(node))
            if found is None:
                problems.append(f"{where}: no numpy 'Parameters' section")
                continue
            missing = [n for n in wanted if n not in found]
            if missing:
                problems.append(f"{where}: parameters not documented: {', '.join(missing)}")

    visit(ast.parse(source).body, "", False)
    return problems


@pytest.mark.parametrize("module", CHECKED_MODULES)
def test_public_functions_document_their_parameters(module):
    path = SRC / module
    problems = undocumented(path.read_text(), module)
    assert not problems, "\n".join(problems)


GOOD = '''
def fit(data, epochs=3, *extra, seed=None, **opts):
    """Fit.

    Parameters
    ----------
    data : array
        Rows.
    epochs, seed : int
        Counts. Default is 3 and None.
    *extra : object
        Ignored.
    **opts
        Passed on.

    Returns
    -------
    None
    """


class Model:
    def predict(self, x):
        """Predict.

        Parameters
        ----------
        x : array
            Input.

        Returns
        -------
        array
        """

    def forward(self, x):
        """Framework hook."""

    def on_train_epoch_end(self, trainer):
        """Lightning hook."""

    @model_validator(mode="after")
    def check(self, info):
        """A pydantic validator: pydantic passes its arguments."""

    @staticmethod
    def make(self):
        """Not a method receiver: staticmethod.

        Parameters
        ----------
        self : str
            A plain parameter that happens to be called self.
        """

    def _private(self, y):
        pass


def no_params():
    """Nothing to document."""
'''


def test_checker_accepts_numpy_sections():
    assert undocumented(GOOD) == []


def test_checker_rejects_prose_and_missing_parameters():
    bad = '''
def prose(config, path):
    """Run.

    ``config`` : a dict of settings; ``path`` : where to write.
    """


def partial(a, b, c=1):
    """Partial.

    Parameters
    ----------
    a : int
        First.

    Returns
    -------
    b : int
        A returned value with a parameter's name does not count.
    """


class Thing:
    def method(self, x):
        pass
'''
    problems = undocumented(bad)
    assert len(problems) == 3, problems
    assert "prose: no numpy 'Parameters' section" in problems[0]
    assert "partial: parameters not documented: b, c" in problems[1]
    assert "Thing.method: no numpy 'Parameters' section" in problems[2]


def test_documented_parameters_parses_groups_and_stars():
    doc = (
        "Sum.\n\nParameters\n----------\nnetwork, inputs, target : object\n"
        "    As in saliency: not an entry.\n**opts\n    More.\n*args : tuple\n\n"
        "Returns\n-------\nout : float\n"
    )
    assert documented_parameters(doc) == {"network", "inputs", "target", "opts", "args"}
    assert documented_parameters("One line only.") is None
