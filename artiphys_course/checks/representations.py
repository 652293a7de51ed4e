"""Exercise checks for notebook 07 (representations: tuning, decoding, RDMs, RSA).

Each check runs the student's function on fixed and seeded random inputs, compares with the
package's reference, names the common mistakes of its exercise and returns a
:class:`~artiphys_course.checks.core.CheckResult` (see :mod:`artiphys_course.checks.core`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr, spearmanr

from artiphys_course.checks.core import CheckResult, Mistake, adapt, check_function
from artiphys_course.decoding import OrientationDecoder, circular_error
from artiphys_course.rsa import compare_rdms, rdm
from artiphys_course.runtime import seeded
from artiphys_course.tuning import orientation_difference, preferred_orientation, von_mises_tuning

__all__ = [
    "check_circular_error",
    "check_compare_rdms",
    "check_correlation_rdm",
    "check_preferred_orientation",
    "check_train_linear_decoder",
]


def _tuned_population(
    seed: int, n_stimuli: int = 36, n_units: int = 7, *, even: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy von Mises tuning curves ``(n_stimuli, n_units)`` and their angles in [-90, 90).

    ``even=True``: an even grid of angles; else angles drawn at random (the circular mean then
    depends on every detail of the weights).
    """
    rng = np.random.default_rng(seed)
    if even:
        theta = -90.0 + (np.arange(n_stimuli) + 0.5) * 180.0 / n_stimuli
    else:
        theta = np.sort(rng.uniform(-90.0, 90.0, n_stimuli))
    pref = rng.uniform(-85.0, 85.0, n_units)
    resp = von_mises_tuning(theta[:, None], pref, rng.uniform(0.5, 4.0, n_units), 1.0, 0.2)
    return resp + 0.05 * rng.normal(size=resp.shape), theta


# -- preferred orientation -----------------------------------------------------------------------


def _modulo_180(deg: Any) -> np.ndarray:
    """Angles in degrees mapped into [-90, 90) (an orientation is defined modulo 180)."""
    deg = deg.detach().cpu().numpy() if isinstance(deg, torch.Tensor) else deg
    return (np.asarray(deg, dtype=np.float64) + 90.0) % 180.0 - 90.0


def _resultant(weights: np.ndarray, angle_rad: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * angle_rad) @ weights)


def _pref_undoubled(responses: np.ndarray, orientation_deg: np.ndarray) -> np.ndarray:
    weights = responses - responses.min(0)
    return _modulo_180(np.rad2deg(_resultant(weights, np.deg2rad(orientation_deg))))


def _pref_not_halved(responses: np.ndarray, orientation_deg: np.ndarray) -> np.ndarray:
    weights = responses - responses.min(0)
    return _modulo_180(np.rad2deg(_resultant(weights, 2 * np.deg2rad(orientation_deg))))


def _pref_degrees_in_exp(responses: np.ndarray, orientation_deg: np.ndarray) -> np.ndarray:
    weights = responses - responses.min(0)
    return _modulo_180(np.rad2deg(_resultant(weights, 2 * orientation_deg)) / 2)


def _pref_raw_weights(responses: np.ndarray, orientation_deg: np.ndarray) -> np.ndarray:
    return _modulo_180(np.rad2deg(_resultant(responses, 2 * np.deg2rad(orientation_deg))) / 2)


def _pref_min_per_stimulus(responses: np.ndarray, orientation_deg: np.ndarray) -> np.ndarray:
    weights = responses - responses.min(1, keepdims=True)
    return _modulo_180(np.rad2deg(_resultant(weights, 2 * np.deg2rad(orientation_deg))) / 2)


def _pref_peak(responses: np.ndarray, orientation_deg: np.ndarray) -> np.ndarray:
    return _modulo_180(orientation_deg[np.argmax(responses, axis=0)])


_PREFERRED_MISTAKES = [
    Mistake(
        "a circular mean of the angles themselves (not doubled)",
        _pref_undoubled,
        "An orientation repeats every 180 degrees, but a unit vector's angle every 360: map the "
        "orientation circle onto the full circle before averaging.",
    ),
    Mistake(
        "the doubled angle, not brought back",
        _pref_not_halved,
        "The angle of the summed vector lives on the doubled circle; undo the doubling.",
    ),
    Mistake(
        "degrees given to the complex exponential",
        _pref_degrees_in_exp,
        "NumPy's exponential and angle functions work in radians; the data are in degrees.",
    ),
    Mistake(
        "the raw responses as weights",
        _pref_raw_weights,
        "Responses can be negative (z-scored data): each unit's weights must be non-negative. "
        "On an uneven set of angles this changes the answer.",
    ),
    Mistake(
        "the minimum taken per stimulus (wrong axis)",
        _pref_min_per_stimulus,
        "Rows are stimuli, columns are units: each unit's weights are shifted by that unit's "
        "own minimum over stimuli.",
    ),
    Mistake(
        "the orientation of the peak response",
        _pref_peak,
        "The peak is one noisy sample; the exercise asks for the response-weighted circular "
        "mean over all stimuli.",
    ),
]


def check_preferred_orientation(student: Callable) -> CheckResult:
    """Exercise: ``preferred_orientation(responses, orientation_deg)`` -> ``(n_units,)`` degrees.

    Circular mean on the doubled angle, weights = response minus the unit's minimum; the answer is
    compared modulo 180 degrees (any output range is accepted). Inputs: a hand-made population
    with a unit preferring horizontal (+-90 degrees), two noisy populations on an even grid of
    angles and one on random angles.
    """

    def reference(responses: np.ndarray, orientation_deg: np.ndarray) -> np.ndarray:
        return _modulo_180(preferred_orientation(responses, orientation_deg, lower=-90.0))

    fixed_angles = np.arange(-90.0, 90.0, 22.5)
    fixed = np.array(  # units preferring horizontal, vertical and +45 degrees
        [
            [3.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            [0.0, 0.0, 1.0, 2.0, 4.0, 2.0, 1.0, 0.0],
            [0.5, 0.2, 0.0, 0.2, 0.5, 1.0, 2.0, 1.0],
        ]
    ).T
    cases = [
        (fixed, fixed_angles),
        _tuned_population(1),
        _tuned_population(2, n_stimuli=24, n_units=9),
        _tuned_population(3, n_stimuli=30, n_units=6, even=False),
    ]
    return check_function(
        adapt(student, lambda fn, *case: _modulo_180(fn(*case))),
        reference,
        cases,
        name="preferred_orientation",
        atol=1e-4,
        mistakes=_PREFERRED_MISTAKES,
        forbidden=[preferred_orientation],
        hint="Check one unit by hand: its answer should point at the orientation where its "
        "tuning curve is high, also for a unit preferring +-90 degrees.",
        fallback="artiphys_course.tuning.preferred_orientation",
    )


# -- circular error ------------------------------------------------------------------------------


def _error_reference(predicted_deg: np.ndarray, true_deg: np.ndarray) -> np.ndarray:
    return np.abs(orientation_difference(predicted_deg, true_deg, 180.0))


_CIRCULAR_MISTAKES = [
    Mistake(
        "a plain absolute difference (no wrap)",
        lambda p, t: np.abs(p - t),
        "Orientation is periodic: 89 and -89 degrees are 2 degrees apart, not 178.",
    ),
    Mistake(
        "the signed difference",
        lambda p, t: (p - t + 90.0) % 180.0 - 90.0,
        "An error is a distance: it is never negative.",
    ),
    Mistake(
        "the difference wrapped into [0, 180)",
        lambda p, t: (p - t) % 180.0,
        "An error of 170 degrees is an error of 10 in the other direction: the largest possible "
        "error is 90 degrees.",
    ),
]


def check_circular_error(student: Callable) -> CheckResult:
    """Exercise: ``circular_error(predicted_deg, true_deg)`` -> absolute error, [0, 90] degrees.

    Inputs: hand-picked pairs across the +-90 wrap, seeded random angles, and a 2-D batch (the
    answer keeps the input's shape).
    """
    rng = np.random.default_rng(3)
    cases = [
        (np.array([89.0, -89.0, 10.0, 45.0, 0.0]), np.array([-89.0, 89.0, 20.0, -45.0, 80.0])),
        (rng.uniform(-90, 90, 20), rng.uniform(-90, 90, 20)),
        (rng.uniform(-90, 90, (3, 4)), rng.uniform(-90, 90, (3, 4))),
    ]
    return check_function(
        student,
        _error_reference,
        cases,
        name="circular_error",
        atol=1e-6,
        mistakes=_CIRCULAR_MISTAKES,
        forbidden=[circular_error, orientation_difference],
        hint="Try 89 vs -89 (2 degrees apart) and 10 vs 20 (10 degrees) by hand; every answer "
        "lies in [0, 90].",
        fallback="artiphys_course.decoding.circular_error",
    )


# -- a linear decoder and its training loop -----------------------------------------------------

_DECODER_TOLERANCE_DEG = 1.0  # differently written correct decoders agree within 0.1 degree


def _decoding_problem(seed: int, *, noise: float = 0.3) -> tuple[torch.Tensor, ...]:
    """Training responses and angles, test responses and angles of a tuned population.

    120 training and 60 test stimuli at random orientations in [-90, 90), 24 von Mises tuned
    neurons with Gaussian noise; float32 tensors.
    """
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-90.0, 90.0, 180)
    pref = rng.uniform(-90.0, 90.0, 24)
    resp = von_mises_tuning(theta[:, None], pref, rng.uniform(0.5, 3.0, 24), 1.0, 0.1)
    resp = resp + noise * rng.normal(size=resp.shape)
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return as_tensor(resp[:120]), as_tensor(theta[:120]), as_tensor(resp[120:]), theta[120:]


def _summary(
    trainer: Callable,
    x: torch.Tensor,
    y: torch.Tensor,
    x_test: torch.Tensor,
    y_test: np.ndarray,
) -> dict[str, Any]:
    """What the check compares: the structure of the answer and the decoder's held-out error.

    ``trainer`` is called as the exercise is (50 epochs, learning rate 0.2, seed 0) on the
    training responses ``x`` ``(n_train, n_neurons)`` and angles ``y`` ``(n_train,)``; its
    decoder decodes ``x_test``, scored against ``y_test`` (degrees).
    """
    decode, losses = trainer(x, y, n_epochs=50, lr=0.2, seed=0)
    with torch.no_grad():
        predicted = decode(x_test)
    predicted = (
        predicted.detach().cpu().numpy() if isinstance(predicted, torch.Tensor) else predicted
    )
    predicted = np.asarray(predicted, dtype=np.float64)
    losses = [float(v) for v in losses]
    errors = np.abs((predicted - y_test + 90.0) % 180.0 - 90.0)
    return {
        "shape of the decoded test orientations": str(predicted.shape),
        "decoded orientations inside [-90, 90]": bool(np.all(np.abs(predicted) <= 90.0 + 1e-4)),
        "number of recorded losses (one per epoch)": str(len(losses)),
        "training loss went down": bool(losses[-1] < losses[0]),
        "mean test error (deg)": float(errors.mean()),
    }


def _reference_decoder(x, y, n_epochs=50, lr=0.2, seed=0):
    """The package's linear circular decoder, trained full-batch with Adam for ``n_epochs``."""
    with seeded(seed):
        decoder = OrientationDecoder(x.shape[1], hidden=0, target="circular")
    decoder.input_mean.copy_(x.mean(0))
    decoder.input_std.copy_(x.std(0))
    optimizer = torch.optim.Adam(decoder.parameters(), lr=lr)
    losses = []
    for _ in range(n_epochs):
        optimizer.zero_grad()
        loss = decoder.loss(decoder(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return (lambda responses: torch.as_tensor(decoder.predict(responses))), losses


def _linear_decoder(code: str) -> Callable:
    """A full-batch Adam linear decoder with one mistake in its output code (for diagnosis)."""

    def train(x, y, n_epochs=50, lr=0.2, seed=0):
        mean, std = x.mean(0), x.std(0)
        angle = 2 * y if code == "degrees" else torch.deg2rad(2 * y)
        target = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
        if code == "angle":
            target = (y / 90.0)[:, None]
        with seeded(seed):
            linear = torch.nn.Linear(x.shape[1], target.shape[1])
        optimizer = torch.optim.Adam(linear.parameters(), lr=lr)
        losses = []
        for _ in range(n_epochs):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(linear((x - mean) / std), target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

        def decode(responses):
            out = linear((responses - mean) / std)
            if code == "angle":
                return out[:, 0] * 90.0
            deg = torch.rad2deg(torch.atan2(out[:, 1], out[:, 0]))
            return deg if code == "not halved" else deg / 2

        return decode, losses

    return train


_DECODER_MISTAKES = [
    Mistake(
        "regressing the angle itself",
        lambda *case: _summary(_linear_decoder("angle"), *case),
        "Nearly identical responses to -89 and +89 degrees must then map to opposite ends of a "
        "number line; use a target on the circle.",
    ),
    Mistake(
        "a decoded angle that is still doubled",
        lambda *case: _summary(_linear_decoder("not halved"), *case),
        "The output vector's angle lives on the doubled circle; bring it back to orientation.",
    ),
    Mistake(
        "degrees given to cos and sin",
        lambda *case: _summary(_linear_decoder("degrees"), *case),
        "torch.cos and torch.sin take radians; the orientations are in degrees.",
    ),
]


def check_train_linear_decoder(student: Callable) -> CheckResult:
    """Exercise: ``train_linear_decoder(responses, orientation_deg, n_epochs, lr, seed)``.

    The student writes a linear decoder of orientation and its training loop and returns
    ``(decode, losses)``: ``decode`` maps responses ``(n, n_neurons)`` to orientations ``(n,)``
    in degrees in [-90, 90], ``losses`` holds one training loss per epoch. The check trains it
    on three seeded tuned populations (one noiseless) and compares the structure of the answer
    and the decoder's mean circular error on held-out stimuli with the package's linear
    circular decoder (:class:`~artiphys_course.decoding.OrientationDecoder`, ``hidden=0``) trained
    the same way, within 1 degree.
    """
    cases = [_decoding_problem(1), _decoding_problem(2, noise=0.0), _decoding_problem(3)]
    return check_function(
        adapt(student, _summary),
        lambda *case: _summary(_reference_decoder, *case),
        cases,
        name="train_linear_decoder",
        rtol=0.0,
        atol=_DECODER_TOLERANCE_DEG,
        mistakes=_DECODER_MISTAKES,
        forbidden=[
            "artiphys_course.decoding.train_decoder",
            "artiphys_course.decoding.OrientationDecoder",
            "artiphys_course.training.fit",
        ],
        hint="Print the losses: they should fall and level off. Are the gradients reset before "
        "each backward pass, and is the test data standardised with the training statistics?",
        fallback="artiphys_course.decoding.train_decoder",
    )


# -- RDMs and RSA --------------------------------------------------------------------------------

_RDM_MISTAKES = [
    Mistake(
        "correlations between neurons (columns), not stimuli",
        lambda x: 1.0 - np.corrcoef(x.T),
        "Rows are stimuli: the RDM compares the response patterns of two stimuli.",
    ),
    Mistake(
        "a similarity, not a dissimilarity",
        lambda x: np.corrcoef(x),
        "Identical patterns must be at distance 0 (the diagonal of an RDM is 0).",
    ),
    Mistake(
        "a covariance instead of a correlation",
        lambda x: 1.0 - np.cov(x),
        "The correlation distance ignores each pattern's mean and scale.",
    ),
    Mistake(
        "the Euclidean distance",
        lambda x: squareform(pdist(x)),
        "The exercise asks for the correlation distance, which ignores the overall level and "
        "gain of a pattern.",
    ),
]


def check_correlation_rdm(student: Callable) -> CheckResult:
    """Exercise: ``correlation_rdm(responses)`` -> ``(n_stimuli, n_stimuli)`` of ``1 - r``.

    Inputs: a hand-made 4 x 5 table, seeded random responses, a tuned population.
    """
    rng = np.random.default_rng(4)
    resp, _ = _tuned_population(5, n_stimuli=12, n_units=30)
    fixed = np.array(
        [
            [1.0, 2.0, 3.0, 4.0, 5.0],
            [2.0, 4.0, 6.0, 8.0, 10.5],
            [5.0, 4.0, 3.0, 2.0, 1.0],
            [0.0, 3.0, 0.0, 3.0, 1.0],
        ]
    )
    cases = [(fixed,), (rng.normal(size=(6, 20)),), (resp,)]
    return check_function(
        student,
        rdm,
        cases,
        name="correlation_rdm",
        atol=1e-6,
        mistakes=_RDM_MISTAKES,
        forbidden=[rdm],
        hint="Check the shape (stimuli x stimuli), a zero diagonal, symmetry, and that a "
        "pattern and twice that pattern are at distance 0.",
        fallback="artiphys_course.rsa.rdm",
    )


def _upper(a: np.ndarray, k: int = 1) -> np.ndarray:
    return a[np.triu_indices(len(a), k=k)]


_COMPARE_MISTAKES = [
    Mistake(
        "a Pearson correlation",
        lambda a, b: float(pearsonr(_upper(a), _upper(b))[0]),
        "RSA asks only that two systems order the stimulus pairs alike: use a rank correlation.",
    ),
    Mistake(
        "the whole matrices",
        lambda a, b: float(spearmanr(a.ravel(), b.ravel())[0]),
        "The diagonal is 0 in every RDM and the lower triangle repeats the upper one: only the "
        "distinct pairs of stimuli are data.",
    ),
    Mistake(
        "the diagonal included",
        lambda a, b: float(spearmanr(_upper(a, 0), _upper(b, 0))[0]),
        "The diagonal is 0 in every RDM (a stimulus vs itself): it says nothing about either "
        "system and inflates the correlation.",
    ),
]


def check_compare_rdms(student: Callable) -> CheckResult:
    """Exercise: ``compare_rdms(rdm_a, rdm_b)`` -> Spearman correlation of the upper triangles.

    Inputs: a hand-made pair of 4 x 4 RDMs and three pairs of seeded random RDMs.
    """
    rng = np.random.default_rng(6)
    x = rng.normal(size=(10, 15))
    a = rdm(x)
    b = rdm(x + rng.normal(size=x.shape))
    c = rdm(rng.normal(size=(10, 15)), "euclidean")
    fixed_a = squareform([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    fixed_b = squareform([2.0, 1.0, 4.0, 3.0, 6.0, 9.0])
    cases = [(fixed_a, fixed_b), (a, b), (a, c), (b, a)]
    return check_function(
        student,
        lambda p, q: compare_rdms(p, q, "spearman"),
        cases,
        name="compare_rdms",
        atol=1e-6,
        mistakes=_COMPARE_MISTAKES,
        forbidden=[compare_rdms],
        hint="Which entries of an RDM are data? Count them for a 4 x 4 RDM: there are 6.",
        fallback="artiphys_course.rsa.compare_rdms",
    )
