import sys

import keras
import matplotlib
import numpy as np
import pytest
import sklearn.metrics
from helpers import save_and_reload

from keras_constrained.metrics import BrierScore
from keras_constrained.metrics import ExpectedCalibrationError
from keras_constrained.metrics import plot_reliability_diagram
from keras_constrained.metrics import reliability_curve

matplotlib.use("Agg")


def softmax(logits):
    z = np.exp(logits - logits.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def random_data(n=300, classes=4, seed=0, scale=2.0):
    rng = np.random.default_rng(seed)
    logits = (scale * rng.normal(size=(n, classes))).astype("float32")
    probabilities = softmax(logits.astype("float64")).astype("float32")
    # Labels drawn from the predictions, so the bins hold both hits and
    # misses.
    labels = np.array([rng.choice(classes, p=p / p.sum())
                       for p in probabilities.astype("float64")])
    return labels, probabilities, logits


def numpy_ece(labels, probabilities, num_bins, weights=None):
    """The textbook form: sum over bins of n_b / N * |acc_b - conf_b|."""
    probabilities = np.asarray(probabilities, "float32")
    labels = np.asarray(labels).reshape(-1)
    weights = (np.ones(len(labels)) if weights is None
               else np.asarray(weights, "float64"))
    confidence = probabilities.max(-1)
    correct = probabilities.argmax(-1) == labels
    bins = np.minimum(np.floor(confidence * np.float32(num_bins)),
                      num_bins - 1).astype(int)
    ece = 0.0
    for b in range(num_bins):
        w = weights[bins == b]
        if w.sum() > 0:
            accuracy = np.average(correct[bins == b], weights=w)
            mean_confidence = np.average(confidence[bins == b], weights=w)
            ece += w.sum() / weights.sum() * abs(accuracy - mean_confidence)
    return ece


def numpy_brier(labels, probabilities):
    one_hot = np.eye(probabilities.shape[1])[labels]
    return np.mean(np.sum((probabilities - one_hot) ** 2, axis=-1))


def value(metric):
    return float(keras.ops.convert_to_numpy(metric.result()))


# Expected calibration error


@pytest.mark.parametrize("num_bins", [1, 5, 15, 40])
def test_ece_accumulated_over_batches_is_the_ece_of_all_the_data(num_bins):
    labels, probabilities, _ = random_data()
    expected = numpy_ece(labels, probabilities, num_bins)
    metric = ExpectedCalibrationError(num_bins=num_bins)
    for start in range(0, 300, 64):  # 5 batches, the last one partial
        metric.update_state(labels[start:start + 64],
                            probabilities[start:start + 64])
    assert value(metric) == pytest.approx(expected, abs=1e-6)
    whole = ExpectedCalibrationError(num_bins=num_bins)
    whole.update_state(labels[:, None], probabilities)  # (batch, 1) labels
    assert value(whole) == pytest.approx(expected, abs=1e-6)
    assert np.asarray(metric.counts).sum() == 300


def test_ece_depends_on_num_bins_as_numpy_says():
    labels, probabilities, _ = random_data(seed=1)
    values = [numpy_ece(labels, probabilities, n) for n in (2, 10)]
    assert abs(values[0] - values[1]) > 1e-3  # the data tells them apart
    for num_bins, expected in zip((2, 10), values):
        metric = ExpectedCalibrationError(num_bins)
        metric.update_state(labels, probabilities)
        assert value(metric) == pytest.approx(expected, abs=1e-6)


def test_ece_of_a_perfectly_calibrated_classifier_is_zero():
    # Confidence 0.5, 0.625, 0.75 and 1 with accuracy 0.5, 5/8, 3/4 and 1.
    probabilities = np.array([[0.5, 0.5]] * 2 + [[0.375, 0.625]] * 8
                             + [[0.75, 0.25]] * 4 + [[0.0, 1.0]] * 3,
                             "float32")
    labels = np.array([0, 1] + [1] * 5 + [0] * 3 + [0, 0, 0, 1] + [1] * 3)
    metric = ExpectedCalibrationError(num_bins=4)
    metric.update_state(labels, probabilities)
    assert value(metric) == pytest.approx(0.0, abs=1e-7)
    # Confidence 1 falls into the last bin, with 0.75.
    assert np.asarray(metric.counts).tolist() == [0, 0, 10, 7]
    # And a miscalibrated one: always 0.9 sure, right half the time.
    metric.reset_state()
    assert value(metric) == 0.0
    metric.update_state([0, 1], [[0.9, 0.1], [0.9, 0.1]])
    assert value(metric) == pytest.approx(0.4, abs=1e-6)


def test_ece_from_logits_equals_ece_from_their_probabilities():
    labels, _, logits = random_data(seed=2, scale=4.0)
    from_logits = ExpectedCalibrationError(from_logits=True)
    from_logits.update_state(labels, logits)
    from_probabilities = ExpectedCalibrationError()
    from_probabilities.update_state(labels, softmax(logits.astype("float64")))
    assert value(from_logits) == pytest.approx(value(from_probabilities),
                                               abs=1e-6)
    assert value(from_logits) == pytest.approx(
        numpy_ece(labels, softmax(logits.astype("float64")), 15), abs=1e-6)


def test_ece_sample_weight_weights_every_count():
    labels, probabilities, _ = random_data(n=120, seed=3)
    weights = np.random.default_rng(3).integers(0, 4, size=120)
    metric = ExpectedCalibrationError(num_bins=8)
    metric.update_state(labels, probabilities, sample_weight=weights)
    assert value(metric) == pytest.approx(
        numpy_ece(labels, probabilities, 8, weights), abs=1e-6)
    # Integer weights count an example that many times.
    repeated = ExpectedCalibrationError(num_bins=8)
    repeated.update_state(np.repeat(labels, weights),
                          np.repeat(probabilities, weights, axis=0))
    assert value(repeated) == pytest.approx(value(metric), abs=1e-6)


# Brier score and negative log-likelihood


def test_brier_score_equals_numpy_over_batches():
    labels, probabilities, logits = random_data(seed=4)
    metric = BrierScore()
    for start in range(0, 300, 128):
        metric.update_state(labels[start:start + 128],
                            probabilities[start:start + 128])
    expected = numpy_brier(labels, probabilities.astype("float64"))
    assert value(metric) == pytest.approx(expected, rel=1e-5)
    from_logits = BrierScore(from_logits=True)
    from_logits.update_state(labels[:, None], logits)
    assert value(from_logits) == pytest.approx(expected, rel=1e-5)
    weights = np.random.default_rng(4).uniform(size=300)
    weighted = BrierScore()
    weighted.update_state(labels, probabilities, sample_weight=weights)
    one_hot = np.eye(4)[labels]
    assert value(weighted) == pytest.approx(np.average(
        np.sum((probabilities - one_hot) ** 2, -1), weights=weights),
        rel=1e-5)


def test_binary_brier_score_equals_scikit_learn():
    rng = np.random.default_rng(5)
    p = rng.uniform(size=200).astype("float32")
    y = (rng.uniform(size=200) < p).astype("int64")
    expected = sklearn.metrics.brier_score_loss(y, p)
    for y_pred in (p, p[:, None]):
        metric = BrierScore()
        metric.update_state(y, y_pred)
        assert value(metric) == pytest.approx(expected, rel=1e-5)
    logit = np.log(p / (1 - p))
    from_logits = BrierScore(from_logits=True)
    from_logits.update_state(y[:, None], logit[:, None])
    assert value(from_logits) == pytest.approx(expected, rel=1e-4)
    # With two columns it is the multi-class score: twice scikit-learn's.
    two_columns = BrierScore()
    two_columns.update_state(y, np.stack([1 - p, p], axis=-1))
    assert value(two_columns) == pytest.approx(2 * expected, rel=1e-5)


@pytest.mark.parametrize("from_logits", [False, True])
def test_nll_is_keras_sparse_categorical_crossentropy(from_logits):
    labels, probabilities, logits = random_data(seed=6, scale=3.0)
    assert probabilities.min() > 1e-7  # the clipping never acts here
    metric = keras.metrics.SparseCategoricalCrossentropy(
        from_logits=from_logits)
    for start in range(0, 300, 100):
        metric.update_state(labels[start:start + 100],
                            (logits if from_logits else probabilities)
                            [start:start + 100])
    log_probabilities = (logits - logits.max(-1, keepdims=True)).astype(
        "float64")
    log_probabilities -= np.log(np.exp(log_probabilities).sum(
        -1, keepdims=True))
    expected = -np.mean(log_probabilities[np.arange(300), labels])
    assert value(metric) == pytest.approx(expected, rel=1e-5)


def test_keras_nll_caps_a_zero_probability_at_epsilon():
    # What the package docstring says: a true-class probability below 1e-7
    # counts as 1e-7.
    metric = keras.metrics.SparseCategoricalCrossentropy()
    metric.update_state(np.array([0, 1]),
                        np.array([[0.0, 1.0], [0.5, 0.5]]))
    expected = (-np.log(1e-7) - np.log(0.5)) / 2
    assert value(metric) == pytest.approx(expected, rel=1e-5)


# Serialization and training


@pytest.mark.parametrize("metric", [
    ExpectedCalibrationError(num_bins=7, from_logits=True, name="my_ece"),
    BrierScore(from_logits=True, name="my_brier"),
], ids=["ece", "brier"])
def test_config_round_trip(metric):
    config = metric.get_config()
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric))
    assert type(restored) is type(metric)
    assert restored.get_config() == config
    assert restored.name == metric.name and restored.from_logits
    labels, _, logits = random_data(n=50, seed=7)
    metric.update_state(labels, logits)
    restored.update_state(labels, logits)
    assert value(restored) == pytest.approx(value(metric), abs=1e-7)
    if isinstance(metric, ExpectedCalibrationError):
        assert restored.num_bins == 7


def test_metrics_in_compile_match_numpy_on_the_predictions():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(100, 5)).astype("float32")
    labels = rng.integers(0, 3, size=100)
    model = keras.Sequential([keras.Input((5,)),
                              keras.layers.Dense(3, kernel_initializer=(
                                  keras.initializers.RandomNormal(
                                      stddev=2.0, seed=0)))])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True),
                  metrics=[ExpectedCalibrationError(num_bins=6,
                                                    from_logits=True),
                           BrierScore(from_logits=True),
                           keras.metrics.SparseCategoricalCrossentropy(
                               from_logits=True, name="nll")])
    logs = model.evaluate(x, labels, batch_size=16, verbose=0,
                          return_dict=True)  # 7 batches, the last partial
    probabilities = softmax(model.predict(x, verbose=0).astype("float64"))
    assert logs["ece"] == pytest.approx(
        numpy_ece(labels, probabilities, 6), abs=1e-5)
    assert logs["brier_score"] == pytest.approx(
        numpy_brier(labels, probabilities), rel=1e-5)
    assert logs["nll"] == pytest.approx(
        -np.mean(np.log(probabilities[np.arange(100), labels])), rel=1e-5)
    history = model.fit(x, labels, batch_size=25, epochs=1, verbose=0)
    assert 0 <= history.history["ece"][0] <= 1


def test_a_saved_model_restores_its_calibration_metrics(tmp_path):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(40, 3)).astype("float32")
    labels = rng.integers(0, 2, size=40)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd",
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True),
                  metrics=[ExpectedCalibrationError(4, from_logits=True),
                           BrierScore(from_logits=True)])
    model.fit(x, labels, epochs=1, verbose=0)  # builds the optimizer
    before = model.evaluate(x, labels, verbose=0, return_dict=True)
    after = save_and_reload(model, tmp_path).evaluate(
        x, labels, verbose=0, return_dict=True)
    assert after == pytest.approx(before, abs=1e-7)


# Reliability curve and diagram


def test_reliability_curve_matches_the_metric():
    labels, probabilities, _ = random_data(seed=9)
    confidence, accuracy, count = reliability_curve(labels, probabilities,
                                                    num_bins=12)
    assert confidence.shape == accuracy.shape == count.shape == (12,)
    assert count.dtype == np.int64 and count.sum() == 300
    empty = count == 0
    assert np.isnan(confidence[empty]).all() and np.isnan(
        accuracy[empty]).all()
    # Each non-empty bin's mean confidence lies in it.
    bins = np.flatnonzero(~empty)
    assert (confidence[bins] >= bins / 12).all()
    assert (confidence[bins] <= (bins + 1) / 12).all()
    metric = ExpectedCalibrationError(num_bins=12)
    metric.update_state(labels, probabilities)
    ece = np.nansum(count * np.abs(accuracy - confidence)) / count.sum()
    assert ece == pytest.approx(value(metric), abs=1e-6)


def test_reliability_diagram_draws_one_bar_per_bin_with_the_ece():
    import matplotlib.pyplot as plt

    labels, _, logits = random_data(seed=10)
    ax = plot_reliability_diagram(labels, logits, num_bins=10,
                                  from_logits=True)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert len(ax.patches) == 10
    metric = ExpectedCalibrationError(num_bins=10, from_logits=True)
    metric.update_state(labels, logits)
    assert ax.get_title() == f"ECE = {value(metric):.4f}"
    _, accuracy, _ = reliability_curve(labels, logits, 10, True)
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == pytest.approx(np.nan_to_num(accuracy), abs=1e-6)
    figure, given = plt.subplots()
    assert plot_reliability_diagram(labels, logits, from_logits=True,
                                    ax=given) is given
    plt.close("all")


def test_reliability_diagram_without_matplotlib_says_how_to_install(
        monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_reliability_diagram([0], [[1.0, 0.0]])


# Bad arguments


@pytest.mark.parametrize("build, error, name", [
    (lambda: ExpectedCalibrationError(num_bins=0), ValueError, "num_bins"),
    (lambda: ExpectedCalibrationError(num_bins=-3), ValueError, "num_bins"),
    (lambda: ExpectedCalibrationError(num_bins=2.5), TypeError, "num_bins"),
    (lambda: ExpectedCalibrationError(num_bins=True), TypeError, "num_bins"),
    (lambda: ExpectedCalibrationError(from_logits="yes"), TypeError,
     "from_logits"),
    (lambda: BrierScore(from_logits=1), TypeError, "from_logits"),
    (lambda: reliability_curve([0], [[1.0, 0.0]], num_bins=0), ValueError,
     "num_bins"),
    (lambda: plot_reliability_diagram([0], [[1.0, 0.0]], num_bins=0),
     ValueError, "num_bins"),
    (lambda: reliability_curve([0, 1], [[1.0, 0.0]]), ValueError, "y_true"),
    (lambda: reliability_curve([0], [1.0]), ValueError, "y_pred"),
    (lambda: ExpectedCalibrationError().update_state(
        [[0, 1]], [[0.2, 0.8]]), ValueError, "y_true"),
    (lambda: ExpectedCalibrationError().update_state(
        [0], [[[0.2, 0.8]]]), ValueError, "y_pred"),
    (lambda: BrierScore().update_state([[0, 1]], [[0.2, 0.8]]), ValueError,
     "y_true"),
])
def test_bad_arguments_raise_errors_naming_them(build, error, name):
    with pytest.raises(error, match=f"`{name}`"):
        build()


def test_num_bins_message_says_what_is_allowed():
    with pytest.raises(ValueError, match=r"int >= 1; received num_bins=0"):
        ExpectedCalibrationError(num_bins=0)
