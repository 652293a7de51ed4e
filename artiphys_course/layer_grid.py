"""Read every neuron of an area out of every layer of a network: the layer x area grid.

The research question (Yamins et al. 2014, PNAS; Cadena et al. 2019, PLOS Comp Biol): which
layer of a task-trained CNN predicts which visual area best? Deeper areas are expected to prefer
deeper layers. The naive recipe trains one readout per layer x area with stochastic gradient
descent; here each cell of the grid is one closed-form ridge regression for *all* neurons at
once, with the penalty chosen by exact leave-one-out cross-validation from a single
eigendecomposition, so a whole grid takes minutes on a CPU.

Pieces
------
- The ridge readout is :func:`artiphys_course.ridge.fit_ridge` (multi-output ridge regression,
  every candidate penalty evaluated at once by leave-one-out).
- :func:`fit_factorized_readout`: trains the spatial mask x feature weights readout
  (:class:`artiphys_course.models.readouts.FactorizedReadout`; Klindt et al. 2017, Cadena et al.
  2019) with :func:`artiphys_course.training.fit`; kept for comparison with ridge (see
  ``benchmarks/bench_layer_grid.py``). It lives here, not beside the readout, because models
  never import :mod:`artiphys_course.training`.
- :class:`LayerReadoutModel`: images -> network layer -> fitted readout, a differentiable model
  of the area (for its MEIs).
- :class:`AreaData`: the responses of one area (training trials and held-out test images).
- :func:`run_layer_grid` -> :class:`GridResult`: networks x layers x areas, one row per cell,
  ``to_csv``, ``matrix`` for heat maps (:func:`artiphys_course.plotting.layer_grid.plot_layer_grid`)
  and ``best_layers``.

Running the grid on a cluster
-----------------------------
Cells are independent and run through :class:`joblib.Parallel`. ``n_jobs`` sets the number of
workers; the *backend* is whatever joblib backend is active, so a cluster needs no code change::

    # Dask (pip install dask distributed)
    from dask.distributed import Client
    import joblib
    client = Client("tcp://scheduler:8786")          # or Client() for a local cluster
    with joblib.parallel_backend("dask"):
        result = run_layer_grid(features, areas, n_jobs=-1)

    # Ray (pip install ray)
    from ray.util.joblib import register_ray
    register_ray()
    with joblib.parallel_backend("ray"):
        result = run_layer_grid(features, areas, n_jobs=-1)

``backend="threading"`` (or ``"loky"``, the default process backend) can also be passed directly.
Each cell solves its own eigendecomposition with NumPy's BLAS; on a laptop ``n_jobs=1`` already
uses every core through BLAS threads.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from artiphys_course import validation
from artiphys_course.features import pool_features, to_network_input
from artiphys_course.losses import poisson_loss
from artiphys_course.metrics import correlation, correlation_score, oracle_correlation
from artiphys_course.models.readouts import FACTORIZED_NONLINEARITIES, FactorizedReadout
from artiphys_course.recording import forward_until, get_layer
from artiphys_course.ridge import fit_ridge
from artiphys_course.runtime import get_device, progress_bar, seeded
from artiphys_course.training import TensorBatches, TrainResult, fit

if TYPE_CHECKING:
    from artiphys_course.data.allen import AllenNaturalScenes
    from artiphys_course.simulate import SimulatedArea

#: A function that returns one network's ``{layer: features}`` when called (see run_layer_grid).
FeatureSource = Callable[[], Mapping[str, np.ndarray | torch.Tensor]]

__all__ = [
    "AreaData",
    "GridResult",
    "GridRow",
    "LayerReadoutModel",
    "best_layers",
    "evaluate_predictions",
    "fit_factorized_readout",
    "run_layer_grid",
]


# --------------------------------------------------------------------------------------------
# Areas, evaluation, the grid
# --------------------------------------------------------------------------------------------
@dataclass
class AreaData:
    """Responses of one visual area to images indexed into a shared image set.

    Attributes
    ----------
    name : str
        Area label, e.g. ``"V1"``.
    train_image_ids : np.ndarray
        ``(n_train_trials,)`` int, row of the image (and feature) array shown on each trial.
    train_responses : np.ndarray
        ``(n_train_trials, n_neurons)`` responses (single trials or trial averages).
    test_image_ids : np.ndarray
        ``(n_test_images,)`` int.
    test_responses : np.ndarray
        ``(n_test_images, n_repeats, n_neurons)`` repeated trials (a noise ceiling can be
        computed) or ``(n_test_images, n_neurons)`` trial averages (no ceiling).
    """

    name: str
    train_image_ids: np.ndarray
    train_responses: np.ndarray
    test_image_ids: np.ndarray
    test_responses: np.ndarray

    def __post_init__(self) -> None:
        self.train_image_ids = np.asarray(self.train_image_ids, dtype=np.int64)
        self.test_image_ids = np.asarray(self.test_image_ids, dtype=np.int64)
        self.train_responses = np.asarray(self.train_responses, dtype=np.float32)
        self.test_responses = np.asarray(self.test_responses, dtype=np.float32)
        if self.train_responses.ndim != 2 or len(self.train_responses) != len(self.train_image_ids):
            raise ValueError(
                f"{self.name}: train_responses must be ({len(self.train_image_ids)}, n_neurons), "
                f"got {self.train_responses.shape}"
            )
        tr = self.test_responses
        if tr.ndim not in (2, 3) or len(tr) != len(self.test_image_ids):
            raise ValueError(
                f"{self.name}: test_responses must be ({len(self.test_image_ids)}, [n_repeats,] "
                f"n_neurons), got {tr.shape}"
            )
        if tr.shape[-1] != self.n_neurons:
            raise ValueError(
                f"{self.name}: {tr.shape[-1]} test neurons but {self.n_neurons} training neurons"
            )

    @classmethod
    def from_simulated(cls, area: SimulatedArea) -> AreaData:
        """From an area of :func:`artiphys_course.simulate.make_visual_hierarchy`."""
        return cls(
            area.name,
            area.train_image_ids,
            area.train_responses,
            area.test_image_ids,
            area.test_responses,
        )

    @classmethod
    def from_allen(cls, data: AllenNaturalScenes, name: str = "Allen V1") -> AreaData:
        """From :func:`artiphys_course.data.allen.load_allen_natural_scenes` (trial averages only,
        so no ceiling); image ids index ``data.images``."""
        return cls(
            name,
            data.train_image_ids,
            data.train_responses,
            data.test_image_ids,
            data.test_responses,
        )

    @property
    def n_neurons(self) -> int:
        return self.train_responses.shape[1]

    @property
    def has_repeats(self) -> bool:
        """True when single test trials are stored (ceiling available)."""
        return self.test_responses.ndim == 3 and self.test_responses.shape[1] > 1


def evaluate_predictions(area: AreaData, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Held-out correlation per neuron and the noise ceiling it is bounded by.

    Parameters
    ----------
    area : AreaData
    predictions : np.ndarray
        ``(n_test_images, n_neurons)`` predicted responses to ``area.test_image_ids``.

    Returns
    -------
    corr : np.ndarray
        ``(n_neurons,)`` Pearson correlation between prediction and held-out responses: every
        single test trial when repeats exist, else the stored trial averages.
    ceiling : np.ndarray
        ``(n_neurons,)`` oracle (leave-one-repeat-out) correlation, the best single-trial
        correlation a model can expect; NaN without repeats.
    """
    predictions = np.asarray(predictions)
    tr = area.test_responses
    if predictions.shape != (len(tr), area.n_neurons):
        raise ValueError(
            f"predictions must be ({len(tr)}, {area.n_neurons}), got {predictions.shape}"
        )
    if tr.ndim == 3:
        reps = tr.shape[1]
        corr = correlation(tr.reshape(-1, area.n_neurons), np.repeat(predictions, reps, axis=0))
        ceiling = oracle_correlation(tr) if reps > 1 else np.full(area.n_neurons, np.nan)
    else:
        corr = correlation(tr, predictions)
        ceiling = np.full(area.n_neurons, np.nan)
    return np.asarray(corr, dtype=np.float64), np.asarray(ceiling, dtype=np.float64)


def best_layers(matrix: np.ndarray, layers: Sequence[str], areas: Sequence[str]) -> dict[str, str]:
    """The best layer of each area from a ``(n_layers, n_areas)`` score matrix.

    Parameters
    ----------
    matrix : np.ndarray
        ``(n_layers, n_areas)`` scores (higher is better); NaN cells are ignored.
    layers, areas : sequence of str
        Row and column labels.

    Returns
    -------
    dict
        ``{area: layer}`` with the highest score in the area's column (the first on ties).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (len(layers), len(areas)):
        raise ValueError(
            f"matrix must be (n_layers, n_areas) = ({len(layers)}, {len(areas)}), "
            f"got {matrix.shape}"
        )
    out = {}
    for j, area in enumerate(areas):
        if np.all(np.isnan(matrix[:, j])):
            raise ValueError(f"area {area!r} has no score in any layer")
        out[area] = layers[int(np.nanargmax(matrix[:, j]))]
    return out


@dataclass
class GridRow:
    """One cell of the grid (all neurons of one area read out of one layer of one network).

    ``correlation`` is the mean over neurons of the held-out correlation
    (:func:`evaluate_predictions`); ``ceiling`` the mean oracle correlation (NaN without repeats);
    ``fraction_of_ceiling = correlation / ceiling``; ``alpha`` the median chosen ridge penalty
    (NaN for the factorized readout); ``seconds`` the fitting time of the cell (areas shown the
    same training images are fitted together: their share of the joint fit, by neuron count).
    """

    network: str
    layer: str
    area: str
    readout: str
    correlation: float
    ceiling: float
    fraction_of_ceiling: float
    alpha: float
    n_features: int
    n_neurons: int
    seconds: float


@dataclass
class GridResult:
    """All cells of a grid, in the order networks x layers x areas."""

    rows: list[GridRow]

    @property
    def networks(self) -> list[str]:
        return list(dict.fromkeys(r.network for r in self.rows))

    @property
    def layers(self) -> list[str]:
        return list(dict.fromkeys(r.layer for r in self.rows))

    @property
    def areas(self) -> list[str]:
        return list(dict.fromkeys(r.area for r in self.rows))

    def matrix(
        self, network: str | None = None, value: str = "correlation", readout: str | None = None
    ) -> np.ndarray:
        """``(n_layers, n_areas)`` array of ``value`` for one network (NaN where missing).

        ``network`` may be omitted when the grid has one; ``value`` is any numeric
        :class:`GridRow` field; ``readout`` selects one readout when the grid has several.
        """
        network = self._one("network", network, self.networks)
        readout = self._one("readout", readout, list(dict.fromkeys(r.readout for r in self.rows)))
        names = {f.name for f in fields(GridRow)} - {"network", "layer", "area", "readout"}
        if value not in names:
            raise KeyError(f"unknown value {value!r}; choose one of {sorted(names)}")
        layers, areas = self.layers, self.areas
        out = np.full((len(layers), len(areas)), np.nan)
        for r in self.rows:
            if r.network == network and r.readout == readout:
                out[layers.index(r.layer), areas.index(r.area)] = getattr(r, value)
        return out

    def best_layers(
        self, network: str | None = None, value: str = "correlation", readout: str | None = None
    ) -> dict[str, str]:
        """The layer with the highest ``value`` for each area of one network."""
        return best_layers(self.matrix(network, value, readout), self.layers, self.areas)

    def to_csv(self, path: str | Path) -> Path:
        """Write one line per cell (header = :class:`GridRow` fields); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[fl.name for fl in fields(GridRow)])
            writer.writeheader()
            for r in self.rows:
                writer.writerow(asdict(r))
        return path

    @staticmethod
    def _one(kind: str, chosen: str | None, options: list[str]) -> str:
        if chosen is None:
            if len(options) != 1:
                raise ValueError(f"the grid has several {kind}s {options}: pass {kind}=...")
            return options[0]
        if chosen not in options:
            raise KeyError(f"unknown {kind} {chosen!r}; the grid has {options}")
        return chosen


def _inverse_nonlinearity(rates: torch.Tensor, nonlinearity: str) -> torch.Tensor:
    """The drive at which the output nonlinearity gives ``rates`` (> 0 for the positive ones)."""
    if nonlinearity == "softplus":
        return rates + torch.log(-torch.expm1(-rates))
    if nonlinearity == "elu1":
        return torch.where(rates > 1, rates - 1, torch.log(rates))
    return rates


def fit_factorized_readout(
    features: np.ndarray | torch.Tensor,
    responses: np.ndarray | torch.Tensor,
    *,
    loss: str = "poisson",
    nonlinearity: str | None = None,
    validation_fraction: float = 0.1,
    lr: float = 1e-2,
    max_epochs: int = 300,
    patience: int = 20,
    batch_size: int = 256,
    smoothness: float = 1e-3,
    mask_sparsity: float = 1e-4,
    feature_sparsity: float = 1e-4,
    group_sparsity: float = 1e-3,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a :class:`~artiphys_course.models.readouts.FactorizedReadout` on frozen features, as
    Cadena et al. (2019) did, with :func:`artiphys_course.training.fit`.

    Cadena et al. (2019, PLoS Comput Biol 15:e1006897, "Deep convolutional models improve
    predictions of macaque V1 responses to natural images") read V1 neurons out of VGG-19
    layers with a spatial mask x feature weights readout, an output nonlinearity that keeps
    rates positive, a Poisson loss, and penalties on mask smoothness (Laplacian), on the
    sparsity of masks and feature weights and on group sparsity. This trainer implements that
    recipe (written from the paper's description, not its code); ``loss="mse"`` is the
    Gaussian alternative kept for comparison.

    Features are standardised with training statistics inside (one mean per feature, one
    overall scale), and for ``loss="mse"`` with a linear output the responses too; the returned
    module undoes it (the standardisation is folded into its weights and bias), so it maps raw
    features to raw responses. A random ``validation_fraction`` of the samples is held out:
    training stops after ``patience`` epochs without a better mean validation correlation, and
    the best weights are restored.

    Parameters
    ----------
    features : array or tensor
        ``(n_samples, channels, height, width)``.
    responses : array or tensor
        ``(n_samples, n_neurons)``; non-negative (spike counts or rates) for ``loss="poisson"``.
    loss : {"poisson", "mse"}
        Poisson negative log-likelihood (:func:`artiphys_course.losses.poisson_loss`) or mean
        squared error.
    nonlinearity : {"softplus", "elu1", "linear"}, optional
        The readout's output nonlinearity (see
        :class:`~artiphys_course.models.readouts.FactorizedReadout`); default ``"softplus"`` for
        the Poisson loss (it needs positive rates; ``"linear"`` is refused) and ``"linear"``
        for the MSE.
    validation_fraction : float
        Fraction of the samples held out for early stopping, in (0, 1).
    lr, max_epochs, patience, batch_size : float, int, int, int
        Adam settings (see :func:`artiphys_course.training.fit`).
    smoothness, mask_sparsity, feature_sparsity, group_sparsity : float
        Penalty weights of the readout (>= 0; 0 switches a penalty off).
    seed : int
        Seeds the validation split, the initial weights and the batch order (the caller's
        random state is left untouched).
    device : str or torch.device, optional
        Default :func:`artiphys_course.runtime.get_device`.
    progress : bool
        Progress bar over epochs.

    Returns
    -------
    TrainResult
        ``.model``: the readout (eval mode, on ``device``); ``.history``: its
        :class:`~artiphys_course.training.TrainHistory` (``loss`` is ``"poisson"`` or
        ``"mse"``, ``score="correlation"`` on the validation responses).
    """
    if loss not in ("poisson", "mse"):
        raise ValueError(f"loss must be 'poisson' or 'mse', got {loss!r}")
    if nonlinearity is None:
        nonlinearity = "softplus" if loss == "poisson" else "linear"
    if nonlinearity not in FACTORIZED_NONLINEARITIES:
        raise ValueError(
            f"nonlinearity must be one of {FACTORIZED_NONLINEARITIES}, got {nonlinearity!r}"
        )
    if loss == "poisson" and nonlinearity == "linear":
        raise ValueError("loss='poisson' needs positive rates: nonlinearity 'softplus' or 'elu1'")
    device = get_device(device)
    x = features if isinstance(features, torch.Tensor) else torch.as_tensor(np.asarray(features))
    y = responses if isinstance(responses, torch.Tensor) else torch.as_tensor(np.asarray(responses))
    if x.ndim != 4:
        raise ValueError(f"features must be (n_samples, C, H, W), got {tuple(x.shape)}")
    if y.ndim != 2 or len(y) != len(x):
        raise ValueError(f"responses must be ({len(x)}, n_neurons), got {tuple(y.shape)}")
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {validation_fraction}")
    x, y = x.float(), y.float()
    validation.finite(x, "features")
    validation.finite(y, "responses")
    if loss == "poisson" and bool((y < 0).any()):
        raise ValueError(
            f"responses must be >= 0 for loss='poisson' ({int((y < 0).sum())} negative values); "
            "use loss='mse' for signals that can be negative"
        )
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(round(validation_fraction * len(x))))
    val, train = order[:n_val], order[n_val:]
    x_mean, x_std = x[train].mean(0), x[train].std(0).mean().clamp_min(1e-8)
    standardise_y = nonlinearity == "linear"
    y_mean = y[train].mean(0) if standardise_y else torch.zeros(y.shape[1])
    y_std = y[train].std(0).clamp_min(1e-8) if standardise_y else torch.ones(y.shape[1])
    xs = ((x - x_mean) / x_std).to(device)
    ys = ((y - y_mean) / y_std).to(device)

    with seeded(seed):
        model = FactorizedReadout(
            tuple(x.shape[1:]),
            y.shape[1],
            nonlinearity=nonlinearity,
            smoothness=smoothness,
            mask_sparsity=mask_sparsity,
            feature_sparsity=feature_sparsity,
            group_sparsity=group_sparsity,
        ).to(device)
    with torch.no_grad():  # start every neuron at its mean response
        mean_rate = ys[train].mean(0)
        if nonlinearity != "linear":
            mean_rate = mean_rate.clamp_min(1e-3)
        model.bias.copy_(_inverse_nonlinearity(mean_rate, nonlinearity))

    def batch_loss(m: FactorizedReadout, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        inputs, targets = batch
        if loss == "poisson":
            return poisson_loss(m(inputs), targets)
        return (m(inputs) - targets).pow(2).mean()

    def validation_correlation(m: FactorizedReadout) -> float:
        return correlation_score(ys[val].cpu(), m(xs[val]).cpu())

    history = fit(
        model,
        TensorBatches(xs[train], ys[train], batch_size=batch_size),
        validation_correlation,
        loss=batch_loss,
        penalty=lambda m: m.regularizer(),
        lr=lr,
        max_epochs=max_epochs,
        patience=patience,
        lr_decay_steps=0,  # stop at the first plateau
        seed=seed,
        progress=progress,
        loss_name=loss,
        score_name="correlation",
    )
    # fold the standardisation into the parameters: raw features -> raw responses
    with torch.no_grad():
        y_std_d, y_mean_d = y_std.to(device), y_mean.to(device)
        offset = model.drive(((torch.zeros_like(x_mean) - x_mean) / x_std).unsqueeze(0).to(device))
        model.weights.mul_((y_std_d / x_std.to(device)).unsqueeze(1))
        model.bias.copy_(offset[0] * y_std_d + y_mean_d)
    return TrainResult(model=model.eval(), history=history)


class LayerReadoutModel(nn.Module):
    """Images -> responses through one network layer and a readout fitted on its features.

    The composite the grid fits, as a differentiable model of the area: grey images ->
    :func:`~artiphys_course.features.to_network_input` (resized to ``image_shape``) -> the
    network up to ``layer`` (:func:`~artiphys_course.recording.forward_until`) ->
    :func:`~artiphys_course.features.pool_features` -> ``readout``. Use it for gradient RFs and
    MEIs (:func:`artiphys_course.mei.compute_meis`) of a fitted readout; build it with the same
    ``image_shape`` and ``pool`` the features were extracted with.

    Parameters
    ----------
    network : nn.Module
        The (frozen) network, e.g. from :func:`~artiphys_course.models.pretrained.load_pretrained`.
    layer : str
        Module name the features were read from (``features.VGG19_LAYERS["conv3_1"]``).
    readout : nn.Module
        Maps ``(B, C, h, w)`` pooled features to ``(B, n_neurons)``, e.g. the model of
        :func:`fit_factorized_readout`.
    image_shape : int or (height, width), optional
        Network input size (``None``: the images' own).
    pool : int or (int, int), optional
        The pooling of the features (``None``: none).

    Notes
    -----
    ``forward(images)`` takes ``(B, 1 or 3, H, W)`` grey levels 0..255 and returns
    ``(B, n_neurons)``. Network and readout are shared, not copied; the network runs in whatever
    mode it is in (use :func:`artiphys_course.units.eval_mode`; MEIs do).
    """

    def __init__(
        self,
        network: nn.Module,
        layer: str,
        readout: nn.Module,
        *,
        image_shape: int | tuple[int, int] | None = None,
        pool: int | tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        get_layer(network, layer)  # KeyError listing the valid names
        self.network = network
        self.layer = layer
        self.readout = readout
        self.image_shape = image_shape
        self.pool = pool

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = to_network_input(images, self.image_shape)
        return self.readout(pool_features(forward_until(self.network, self.layer, x), self.pool))


def _rows(feats: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``feats[ids]``, as a view (no copy of a large feature array) when ``ids`` is a run."""
    if len(ids) and np.array_equal(ids, np.arange(ids[0], ids[0] + len(ids))):
        return feats[ids[0] : ids[0] + len(ids)]
    return feats[ids]


def _fit_cell(
    network: str,
    layer: str,
    feats: np.ndarray,
    areas: list[AreaData],
    readout: str,
    alphas: np.ndarray | None,
    factorized_options: dict,
) -> list[GridRow]:
    """One readout for all neurons of ``areas`` (which share their training images)."""
    start = time.perf_counter()
    x_train = _rows(feats, areas[0].train_image_ids)
    y_train = np.concatenate([a.train_responses for a in areas], axis=1)
    if readout == "ridge":
        fit = fit_ridge(x_train, y_train, alphas)

        def predict(x: np.ndarray) -> np.ndarray:
            return fit.predict(x)

    else:
        if feats.ndim != 4:
            raise ValueError(
                f"the factorized readout needs (N, C, H, W) features; {network}/{layer} has "
                f"shape {feats.shape}"
            )
        options = {"progress": False, **factorized_options}
        model = fit_factorized_readout(x_train, y_train, **options).model
        dev = next(model.parameters()).device

        def predict(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.as_tensor(x, dtype=torch.float32, device=dev)).cpu().numpy()

    rows, first = [], 0
    for area in areas:
        cols = slice(first, first + area.n_neurons)
        first += area.n_neurons
        corr, ceiling = evaluate_predictions(area, predict(feats[area.test_image_ids])[:, cols])
        mean_corr = float(np.mean(corr))
        mean_ceiling = float(np.mean(ceiling)) if area.has_repeats else float("nan")
        rows.append(
            GridRow(
                network=network,
                layer=layer,
                area=area.name,
                readout=readout,
                correlation=mean_corr,
                ceiling=mean_ceiling,
                fraction_of_ceiling=mean_corr / mean_ceiling if area.has_repeats else float("nan"),
                alpha=float(np.median(fit.alpha[cols])) if readout == "ridge" else float("nan"),
                n_features=int(np.prod(feats.shape[1:])),
                n_neurons=area.n_neurons,
                seconds=0.0,
            )
        )
    seconds = time.perf_counter() - start
    total = sum(a.n_neurons for a in areas)
    for row in rows:
        row.seconds = seconds * row.n_neurons / total
    return rows


def run_layer_grid(
    features: Mapping[str, Mapping[str, np.ndarray | torch.Tensor] | FeatureSource],
    areas: Sequence[AreaData] | AreaData,
    *,
    readouts: Sequence[str] = ("ridge",),
    alphas: Sequence[float] | None = None,
    factorized_options: Mapping | None = None,
    n_jobs: int = 1,
    backend: str | None = None,
    progress: bool = True,
    csv_path: str | Path | None = None,
) -> GridResult:
    """Fit and evaluate a readout for every network x layer x area x readout cell.

    Parameters
    ----------
    features : mapping
        ``{network: {layer: array (n_images, ...)}}``, e.g. from
        :func:`artiphys_course.features.extract_features`; rows are the images the areas'
        ``*_image_ids`` index. A network's value may also be a function of no arguments that
        returns its ``{layer: array}``: it is called when the grid reaches that network and its
        features are dropped after, so only one network's features are in memory at a time.
    areas : AreaData or sequence of AreaData
    readouts : sequence of str
        ``"ridge"`` (closed form, penalty by leave-one-out CV) and/or ``"factorized"``
        (gradient-trained spatial x feature readout; needs ``(N, C, H, W)`` features).
    alphas : sequence of float, optional
        Candidate ridge penalties (default: scale-free, see
        :func:`artiphys_course.ridge.fit_ridge`).
    factorized_options : mapping, optional
        Keyword arguments for :func:`fit_factorized_readout`.
    n_jobs : int
        Parallel workers for joblib (1 = run in this process).
    backend : str, optional
        A joblib backend name; default: the active one (see the module docstring for
        Dask / Ray).
    progress : bool
        Show a progress bar over cells (one per network).
    csv_path : str or Path, optional
        Also write the table there (nothing is written otherwise).

    Returns
    -------
    GridResult
        Rows in the order network, layer, area, readout.
    """
    from joblib import Parallel, delayed

    areas = [areas] if isinstance(areas, AreaData) else list(areas)
    if not areas:
        raise ValueError("no areas given")
    if len({a.name for a in areas}) != len(areas):
        raise ValueError(f"area names must be unique, got {[a.name for a in areas]}")
    valid = ("ridge", "factorized")
    for r in readouts:
        if r not in valid:
            raise ValueError(f"unknown readout {r!r}; choose from {valid}")
    if not features:
        raise ValueError("no networks in features")
    for net, layers in features.items():
        if not (callable(layers) or isinstance(layers, Mapping)):
            raise TypeError(
                f"features[{net!r}] must be a {{layer: array}} mapping or a function returning "
                f"one, got {type(layers).__name__}"
            )
    options = dict(factorized_options or {})
    # areas shown the same training images share one fit per layer (one eigendecomposition)
    groups: dict[bytes, list[AreaData]] = {}
    for area in areas:
        groups.setdefault(area.train_image_ids.tobytes(), []).append(area)
    alphas_arr = None if alphas is None else np.asarray(alphas, dtype=np.float64)
    parallel = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator")
    rows: list[GridRow] = []
    for net, layers in features.items():
        arrays = _network_arrays(net, layers() if callable(layers) else layers, areas)
        cells = [
            (layer, arrays[layer], group, r)
            for layer in arrays
            for group in groups.values()
            for r in readouts
        ]
        jobs = (delayed(_fit_cell)(net, la, f, g, r, alphas_arr, options) for la, f, g, r in cells)
        desc = f"layer x area grid ({net})"
        done = progress_bar(parallel(jobs), progress, desc=desc, total=len(cells))
        by_key = {(r.layer, r.area, r.readout): r for cell in done for r in cell}
        rows += [by_key[la, a.name, r] for la in arrays for a in areas for r in readouts]
        del arrays, cells
    result = GridResult(rows=rows)
    if csv_path is not None:
        result.to_csv(csv_path)
    return result


def _network_arrays(
    net: str, layers: Mapping[str, np.ndarray | torch.Tensor], areas: list[AreaData]
) -> dict[str, np.ndarray]:
    """One network's features as arrays, checked against the images the areas index."""
    if not isinstance(layers, Mapping) or not layers:
        raise ValueError(
            f"features[{net!r}] must give a non-empty {{layer: array}} mapping, got {layers!r:.80}"
        )
    arrays = {
        layer: (f.detach().cpu().numpy() if isinstance(f, torch.Tensor) else np.asarray(f))
        for layer, f in layers.items()
    }
    for layer, f in arrays.items():
        for a in areas:
            top = max(a.train_image_ids.max(), a.test_image_ids.max())
            if top >= len(f):
                raise IndexError(
                    f"area {a.name!r} indexes image {top} but {net}/{layer} has only "
                    f"{len(f)} images"
                )
    return arrays
