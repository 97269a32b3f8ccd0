"""The standard normal quantile function, in NumPy.

Rank normalization needs `Phi^-1`, and the package depends on neither
SciPy nor a backend for host-side statistics. This is algorithm AS 241
(`PPND16`) of Wichura (1988), "The percentage points of the normal
distribution", Applied Statistics 37(3), 477-484: three rational
approximations of degree 7/7, one for the centre `|p - 1/2| <= 0.425`
in `q = p - 1/2` (as `q * A(r) / B(r)`, `r = 0.180625 - q^2`), and two
for the tails in `r = sqrt(-log(min(p, 1 - p)))` (one for `r <= 5`, one
beyond), with a relative error of about 1e-16 over `(0, 1)`.

It was chosen over `keras.ops.erfinv` because it is exact to double
precision in the tails (`erfinv(2p - 1)` loses digits when `2p - 1` is
rounded near -1, more so in float32), needs no round trip through a
backend's tensors, and so gives the same numbers on every backend.
"""

import numpy as np

# Coefficients of the centre, in increasing powers of r.
_A = (3.3871328727963666080e0, 1.3314166789178437745e+2,
      1.9715909503065514427e+3, 1.3731693765509461125e+4,
      4.5921953931549871457e+4, 6.7265770927008700853e+4,
      3.3430575583588128105e+4, 2.5090809287301226727e+3)
_B = (1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2,
      5.3941960214247511077e+3, 2.1213794301586595867e+4,
      3.9307895800092710610e+4, 2.8729085735721942674e+4,
      5.2264952788528545610e+3)
# The near tail, 1.6 <= r <= 5, in powers of r - 1.6.
_C = (1.42343711074968357734e0, 4.63033784615654529590e0,
      5.76949722146069140550e0, 3.64784832476320460504e0,
      1.27045825245236838258e0, 2.41780725177450611770e-1,
      2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0,
      6.89767334985100004550e-1, 1.48103976427480074590e-1,
      1.51986665636164571966e-2, 5.47593808499534494600e-4,
      1.05075007164441684324e-9)
# The far tail, r > 5, in powers of r - 5.
_E = (6.65790464350110377720e0, 5.46378491116411436990e0,
      1.78482653991729133580e0, 2.96560571828504891230e-1,
      2.65321895265761230930e-2, 1.24266094738807843860e-3,
      2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1,
      1.48753612908506148525e-2, 7.86869131145613259100e-4,
      1.84631831751005468180e-5, 1.42151175831644588870e-7,
      2.04426310338993978564e-15)


def _ratio(numerator, denominator, x):
    return (np.polynomial.polynomial.polyval(x, numerator)
            / np.polynomial.polynomial.polyval(x, denominator))


def normal_quantile(p):
    """`Phi^-1(p)` elementwise for probabilities `p` in `(0, 1)`, float64.

    `p = 0` and `p = 1` give `-inf` and `inf`; values outside `[0, 1]`
    give NaN.
    """
    p = np.asarray(p, dtype="float64")
    q = p - 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = q * _ratio(_A, _B, 0.180625 - q * q)
        r = np.sqrt(-np.log(np.minimum(p, 1.0 - p)))
        tail = np.where(r <= 5.0, _ratio(_C, _D, r - 1.6),
                        _ratio(_E, _F, r - 5.0))
    z = np.where(np.abs(q) <= 0.425, centre, np.where(q < 0, -tail, tail))
    z = np.where(p == 0.0, -np.inf, np.where(p == 1.0, np.inf, z))
    return np.where((p >= 0.0) & (p <= 1.0), z, np.nan)
