import json

import numpy as np
import pytest
from helpers import to_numpy
from keras import ops

from keras_constrained.constraints import SparsityMask

MASK = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])


def test_projection_zeroes_the_weights_outside_the_pattern():
    w = np.arange(1.0, 10.0, dtype="float32").reshape(3, 3)
    c = SparsityMask(MASK)
    np.testing.assert_allclose(to_numpy(c(w)), w * MASK)
    assert float(c.violation(w)) == 8.0  # the largest off-pattern weight
    assert float(c.violation(c(w))) == 0.0


def test_tangent_and_move_never_leave_the_pattern():
    rng = np.random.default_rng(0)
    c = SparsityMask(MASK.astype(bool))
    q = c(rng.normal(size=(3, 3)).astype("float32"))
    v = ops.convert_to_tensor(rng.normal(size=(3, 3)), q.dtype)
    q1, v1 = c.move(q, v, 0.5)
    np.testing.assert_allclose(to_numpy(q1), to_numpy(q) + 0.5 * to_numpy(v) * MASK,
                               rtol=1e-6)
    np.testing.assert_allclose(to_numpy(v1), to_numpy(v) * MASK)


def test_config_is_json():
    config = SparsityMask(MASK).get_config()
    assert json.loads(json.dumps(config)) == {"mask": MASK.tolist()}


@pytest.mark.parametrize("mask, fragment", [
    (np.array([[0, 2], [1, 0]]), "only 0 and 1"),
    (np.array([["a", "b"]]), "only 0 and 1"),
    (np.zeros((0, 3)), "non-empty"),
    (1, "non-empty"),
])
def test_rejects_a_bad_mask(mask, fragment):
    with pytest.raises(ValueError, match=f"`mask`.*{fragment}"):
        SparsityMask(mask)


def test_rejects_a_variable_of_another_shape():
    with pytest.raises(ValueError, match=r"`mask` has shape \(3, 3\).*\(3, 4\)"):
        SparsityMask(MASK)(ops.ones((3, 4)))
