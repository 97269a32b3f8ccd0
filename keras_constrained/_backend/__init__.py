"""Everything that differs between JAX, TensorFlow and torch, in one place.

The rest of the package is written in `keras.ops`; where a backend needs
another route, the workaround lives here, with its reason:

- `ops`: `keras.ops` functions that keep float64 (Keras 3.15 computes some
  in float32 under JAX and torch), torch's failing `eigh`, an identity
  matrix XLA compiles.
- `trigonometry`: fast sine and cosine of an angle for compiled steps.
- `control_flow`: `cond`, `branch`, `while_loop` that cost what they should
  eagerly, a per-shape TensorFlow function, host callbacks.
- `fused_update`: an optimizer's per-variable arithmetic as one compiled
  loop (XLA, `torch.compile`) writing into the variables.
- `distribute`: gradients summed over TensorFlow's replicas.
- `autodiff`: a model's loss gradients on any backend.
"""
