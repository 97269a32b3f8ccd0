"""Argument checks shared by every public constructor of the package.

Each check takes the argument's `name` and `value`, returns the value in a
plain Python form (`float`, `int`, `bool`, a NumPy array), so that configs
stay JSON-serializable, and otherwise raises an error whose message names
the argument, the value received and what is allowed: `TypeError` for a
value of the wrong type, `ValueError` for one of the right type but out of
range. NumPy scalars pass wherever Python numbers do (`numbers.Real`,
`numbers.Integral`); booleans never count as numbers.
"""

import math
import numbers

import numpy as np


def _fail(error, name, value, allowed):
    received = f"{name}={value!r}"
    if error is TypeError:
        received += f" of type {type(value).__name__}"
    raise error(f"`{name}` must be {allowed}; received {received}.")


def _interval(minimum, maximum, exclusive_minimum, exclusive_maximum,
              allow_inf):
    """Words for the numbers allowed, e.g. `a finite number > 0`."""
    if minimum is not None and maximum is not None:
        return (f"a number in {'(' if exclusive_minimum else '['}{minimum:g}, "
                f"{maximum:g}{')' if exclusive_maximum else ']'}")
    words = "a number" if allow_inf else "a finite number"
    if minimum is not None:
        words += f" {'>' if exclusive_minimum else '>='} {minimum:g}"
    if maximum is not None:
        words += f" {'<' if exclusive_maximum else '<='} {maximum:g}"
    return words + (" or math.inf" if allow_inf else "")


def check_real(name, value, minimum=None, maximum=None, *,
               exclusive_minimum=False, exclusive_maximum=False,
               allow_inf=False, optional=False, allowed=None):
    """`value` as a `float`, if it is a real number in the given range.

    NaN is never in range, nor are infinities unless `allow_inf` (which
    admits `math.inf` only).

    Args:
        name: the argument's name, for the message.
        value: the argument.
        minimum, maximum: the bounds, `None` for none.
        exclusive_minimum, exclusive_maximum: whether a bound itself is
            excluded.
        allow_inf: whether `math.inf` is allowed.
        optional: whether `None` is allowed (and returned).
        allowed: words for what is allowed, instead of the generated ones.

    Raises:
        TypeError: `value` is not a real number (a bool is not).
        ValueError: it is out of range.
    """
    if value is None and optional:
        return None
    if allowed is None:
        allowed = _interval(minimum, maximum, exclusive_minimum,
                            exclusive_maximum, allow_inf)
        allowed += " or None" if optional else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(TypeError, name, value, allowed)
    number = float(value)
    below = minimum is not None and (
        number <= minimum if exclusive_minimum else number < minimum)
    above = maximum is not None and (
        number >= maximum if exclusive_maximum else number > maximum)
    infinite = math.isinf(number) and not (allow_inf and number > 0)
    if math.isnan(number) or below or above or infinite:
        _fail(ValueError, name, value, allowed)
    return number


def check_positive(name, value, **kwargs):
    """`value` as a finite `float > 0` (see `check_real`)."""
    return check_real(name, value, 0, exclusive_minimum=True, **kwargs)


def check_non_negative(name, value, **kwargs):
    """`value` as a finite `float >= 0` (see `check_real`)."""
    return check_real(name, value, 0, **kwargs)


def check_integer(name, value, minimum=None, maximum=None, *,
                  optional=False, allowed=None):
    """`value` as an `int`, if it is an integer in `[minimum, maximum]`.

    Raises:
        TypeError: `value` is not an integer (a bool or a float is not).
        ValueError: it is out of range.
    """
    if value is None and optional:
        return None
    if allowed is None:
        if minimum is not None and maximum is not None:
            allowed = f"an int in [{minimum}, {maximum}]"
        else:
            allowed = "an int"
            allowed += "" if minimum is None else f" >= {minimum}"
            allowed += "" if maximum is None else f" <= {maximum}"
        allowed += " or None" if optional else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(TypeError, name, value, allowed)
    number = int(value)
    if ((minimum is not None and number < minimum)
            or (maximum is not None and number > maximum)):
        _fail(ValueError, name, value, allowed)
    return number


def check_bool(name, value):
    """`value` as a `bool`, if it is `True` or `False` (NumPy's too).

    Raises:
        TypeError: anything else, truthy strings and 0/1 included.
    """
    if not isinstance(value, (bool, np.bool_)):
        _fail(TypeError, name, value, "a bool (True or False)")
    return bool(value)


def check_choice(name, value, choices):
    """`value`, if it is one of the strings `choices`.

    Raises:
        TypeError: `value` is not a string.
        ValueError: it is not one of `choices`.
    """
    allowed = f"one of {', '.join(map(repr, choices))}"
    if not isinstance(value, str):
        _fail(TypeError, name, value, allowed)
    if value not in choices:
        _fail(ValueError, name, value, allowed)
    return str(value)


def check_instance(name, value, types, allowed, *, optional=False):
    """`value`, if it is an instance of `types` (or `None`, if `optional`).

    Raises:
        TypeError: it is not; `allowed` says in words what is.
    """
    if value is None and optional:
        return None
    if not isinstance(value, types):
        _fail(TypeError, name, value, allowed)
    return value


def check_square_matrix(name, value, *, optional=False, allowed=None):
    """`value` as a float64 NumPy array, if it is a finite square matrix.

    Raises:
        TypeError: `value` is not array-like with numbers.
        ValueError: it is not 2-D and square, or not finite.
    """
    if value is None and optional:
        return None
    if allowed is None:
        allowed = "a square matrix of finite numbers"
        allowed += " or None" if optional else ""
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        array = None
    if array is None:
        _fail(TypeError, name, value, allowed)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ValueError(f"`{name}` must be {allowed}; received {name} of "
                         f"shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` must be {allowed}; received {name} with "
                         f"non-finite entries.")
    return array


def check_learning_rate(value):
    """The `learning_rate` of an optimizer: a finite `float > 0`, or a
    `keras.optimizers.schedules.LearningRateSchedule` or callable, which
    are returned as they are."""
    if callable(value):  # LearningRateSchedule instances are callable
        return value
    return check_positive(
        "learning_rate", value,
        allowed="a finite number > 0, a keras.optimizers.schedules."
                "LearningRateSchedule or a callable")
