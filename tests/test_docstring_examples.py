"""Every public object's `Example:` block runs as written."""

import inspect
import re

import keras
import numpy
import pytest

import keras_constrained

MODULES = ["callbacks", "constraints", "datasets", "layers", "optimizers"]
PUBLIC = [(f"{module}.{name}", getattr(getattr(keras_constrained, module),
                                        name))
          for module in MODULES
          for name in getattr(keras_constrained, module).__all__]
EXAMPLES = [(name, block) for name, obj in PUBLIC
            for block in re.findall(r"Example:\s*```python\n(.*?)```",
                                    inspect.getdoc(obj) or "", re.S)]


def test_every_public_object_has_an_example():
    with_examples = {name for name, _ in EXAMPLES}
    missing = [name for name, _ in PUBLIC if name not in with_examples
               and name != "constraints.ManifoldConstraint"]
    assert not missing


@pytest.mark.parametrize("name, code", EXAMPLES,
                         ids=[name for name, _ in EXAMPLES])
def test_example_runs(name, code, tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    exec(compile(code, name, "exec"),
         {"keras": keras, "numpy": numpy,
          "keras_constrained": keras_constrained})
