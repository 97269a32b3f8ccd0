"""PosteriorSampler with a CyclicalSchedule: samples only from the sampling
phases of cyclical SG-MCMC."""

import keras
import numpy as np
import pytest
from helpers import Particles
from helpers import WeightRecorder as Recorder

from keras_constrained.callbacks import PosteriorSampler
from keras_constrained.optimizers import CyclicalSchedule
from keras_constrained.optimizers import OverdampedLangevin

TORCH = keras.config.backend() == "torch"


def make_model(schedule, steps_per_execution=1):
    inputs = keras.Input((1,))
    model = keras.Model(inputs, Particles(shape=(4,))(inputs))
    model.compile(optimizer=OverdampedLangevin(
        schedule, temperature=schedule.temperature(1.0), seed=0),
        steps_per_execution=steps_per_execution)
    return model


def fit(model, callbacks, steps, epochs=1):
    recorder = Recorder()
    model.fit(np.zeros((steps, 1), "float32"), batch_size=1, epochs=epochs,
              verbose=0, shuffle=False, callbacks=[*callbacks, recorder])
    return recorder.weights


def assert_taken(sampler, reference, taken):
    """The sampler kept the weights after the (1-based) steps `taken`."""
    samples = list(sampler.weights())
    assert len(samples) == len(taken)
    for kept, step in zip(samples, taken):
        np.testing.assert_allclose(kept[0], reference[step - 1][0],
                                   rtol=1e-6, atol=1e-6)


# K = 5, beta = 0.6: steps (from 0) 3, 4, 8, 9, 13, 14 sample, so the
# counts 4, 5, 9, 10, 14, 15 end sampling steps.
@pytest.mark.parametrize("burn_in, every, taken", [
    (0, 1, [4, 5, 9, 10, 14, 15]),
    (5, 2, [5, 9, 15]),
    (7, 1, [9, 10, 14, 15])])
def test_samples_only_in_the_sampling_phase(burn_in, every, taken):
    schedule = CyclicalSchedule(0.1, steps_per_cycle=5,
                                exploration_fraction=0.6)
    assert [k for k in range(15) if schedule.is_sampling(k)] == [
        3, 4, 8, 9, 13, 14]
    reference = fit(make_model(schedule), [], steps=15)
    sampler = PosteriorSampler(burn_in=burn_in, every=every,
                               schedule=schedule)
    weights = fit(make_model(schedule), [sampler], steps=15)
    assert sampler.steps == 15
    for a, b in zip(weights, reference):  # the sampler changes no step
        np.testing.assert_array_equal(a[0], b[0])
    assert_taken(sampler, reference, taken)


def test_the_phase_continues_over_fit_calls():
    schedule = CyclicalSchedule(0.1, steps_per_cycle=4,
                                exploration_fraction=0.5)
    reference = fit(make_model(schedule), [], steps=12)
    sampler = PosteriorSampler(schedule=schedule)
    model = make_model(schedule)
    weights = fit(model, [sampler], steps=6) + fit(model, [sampler], steps=6)
    assert len(weights) == 12
    assert_taken(sampler, reference, [3, 4, 7, 8, 11, 12])


@pytest.mark.skipif(TORCH, reason="torch allows only steps_per_execution=1")
def test_counts_steps_with_steps_per_execution():
    # Executions of 3 steps end at the counts 3, 6, 9, 12, 15: the
    # executions with a sampling step (counts 4-5, 9-10, 14-15) give the
    # weights at their ends.
    schedule = CyclicalSchedule(0.1, steps_per_cycle=5,
                                exploration_fraction=0.6)
    reference = fit(make_model(schedule), [], steps=15)
    sampler = PosteriorSampler(schedule=schedule)
    fit(make_model(schedule, steps_per_execution=3), [sampler], steps=15)
    assert sampler.steps == 15
    assert_taken(sampler, reference, [6, 9, 12, 15])


def test_without_a_schedule_every_step_samples():
    schedule = CyclicalSchedule(0.1, steps_per_cycle=5,
                                exploration_fraction=0.6)
    sampler = PosteriorSampler()
    fit(make_model(schedule), [sampler], steps=7)
    assert len(sampler) == 7


@pytest.mark.parametrize("schedule", [
    keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5), 0.5,
    CyclicalSchedule(0.1, 4).temperature(1.0)])
def test_rejects_other_schedules(schedule):
    with pytest.raises(TypeError, match="`schedule`.*CyclicalSchedule"
                                        ".*schedule="):
        PosteriorSampler(schedule=schedule)
