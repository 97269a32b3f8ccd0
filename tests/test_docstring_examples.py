"""Every public object's `Example:` block runs as written."""

import inspect
import re

import keras
import numpy
import pytest

import keras_constrained

MODULES = ["callbacks", "constraints", "datasets", "diagnostics", "layers",
           "metrics", "models", "optimizers"]
PUBLIC = [(f"{module}.{name}", getattr(getattr(keras_constrained, module),
                                        name))
          for module in MODULES
          for name in getattr(keras_constrained, module).__all__]
# Public methods a class defines itself (`UnderdampedLangevin.from_sgd`)
# carry examples too.
METHODS = [(f"{name}.{attr}", getattr(obj, attr))
           for name, obj in PUBLIC if inspect.isclass(obj)
           for attr, member in vars(obj).items()
           if not attr.startswith("_") and (
               inspect.isfunction(member)
               or isinstance(member, (classmethod, staticmethod)))]
EXAMPLES = [(name, block) for name, obj in PUBLIC + METHODS
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
    if name == "datasets.prepare_fashion_mnist":
        # TFDS PNG-encodes every image it prepares (70000: about a minute);
        # its generator reads as many as these constants say.
        mnist = pytest.importorskip(
            "tensorflow_datasets.image_classification.mnist")
        monkeypatch.setattr(mnist, "_TRAIN_EXAMPLES", 3000)
        monkeypatch.setattr(mnist, "_TEST_EXAMPLES", 500)
    exec(compile(code, name, "exec"),
         {"keras": keras, "numpy": numpy,
          "keras_constrained": keras_constrained})
