"""Readouts: core feature maps -> one (pre-nonlinearity) value per neuron.

Every readout maps features ``(batch, channels, height, width)`` to ``(batch, n_neurons)`` and has
``regularizer()``. Three kinds:

* :class:`FullyConnectedReadout` - every neuron weighs every feature at every position (many
  parameters; the "simple CNN").
* :class:`GaussianReadout` - each neuron reads the feature vector at ONE learned position of the
  feature map (bilinear interpolation with ``grid_sample``) and weighs its channels (Lurz et al.,
  ICLR 2021; neuralpredictors' ``FullGaussian2d``). During training the position is sampled from a
  learned Gaussian around its mean, which lets the gradient find the right place; in evaluation the
  mean is used. Optionally a :class:`PositionNetwork` predicts every neuron's position from its
  cortical coordinates (the SENSORIUM "cortex grid predictor") instead of learning one free position
  per neuron: neighbouring neurons then get neighbouring receptive fields, as retinotopy demands.
* :class:`FactorizedReadout` - each neuron weighs a spatial mask ("where") times a feature vector
  ("what") (Klindt et al., NeurIPS 2017; Cadena et al., PLOS Comp Biol 2019): far fewer
  parameters than a fully connected readout. The layer x area grid fits it on frozen features
  (:func:`artiphys_course.layer_grid.fit_factorized_readout`), with an output nonlinearity and
  a Poisson loss as Cadena et al. (2019) did: there it is the whole model, so it can apply the
  nonlinearity itself (``nonlinearity="softplus"`` or ``"elu1"``).

Positions are in ``grid_sample``'s normalised coordinates ``(x, y)`` in ``[-1, 1]`` with
``align_corners=True``: ``x = -1`` is the centre of the first column, ``x = +1`` of the last.
:func:`grid_to_pixels` and :func:`pixels_to_grid` convert to and from pixel ``(row, col)``.

:class:`MultiReadout` holds one readout per data key (recording session) in a ``ModuleDict`` so that
several sessions share one core.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from artiphys_course.models.cores import laplace_l2

__all__ = [
    "grid_to_pixels",
    "pixels_to_grid",
    "read_features",
    "FACTORIZED_NONLINEARITIES",
    "FactorizedReadout",
    "FullyConnectedReadout",
    "PositionNetwork",
    "GaussianReadout",
    "MultiReadout",
]


def _check_features(x: torch.Tensor, in_shape: Sequence[int], who: str) -> None:
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(in_shape):
        raise ValueError(
            f"{who} expects feature maps of shape (batch, {', '.join(map(str, in_shape))}), "
            f"got {tuple(x.shape)}"
        )


def _initial_bias(mean_response: np.ndarray | torch.Tensor | None, n: int) -> torch.Tensor:
    """Bias so that ``ELU(bias) + 1`` equals the mean response (the inverse of ELU + 1)."""
    if mean_response is None:
        return torch.zeros(n)
    mean = torch.as_tensor(np.asarray(mean_response), dtype=torch.float32).reshape(-1)
    if mean.numel() != n:
        raise ValueError(f"mean_response has {mean.numel()} entries, expected one per neuron ({n})")
    mean = mean.clamp_min(1e-3)
    return torch.where(mean >= 1, mean - 1, torch.log(mean))


def grid_to_pixels(grid: torch.Tensor, shape: Sequence[int], offset: float = 0.0) -> torch.Tensor:
    """Normalised ``(x, y)`` grid positions -> pixel ``(row, col)`` of a ``(height, width)`` map.

    Parameters
    ----------
    grid : Tensor, shape (..., 2)
        ``(x, y)`` in ``[-1, 1]``, ``align_corners=True`` convention.
    shape : (height, width)
        Size of the feature map the grid refers to.
    offset : float
        Added to both pixel coordinates, e.g. ``core.crop`` to express a position on an unpadded
        core's feature map in image pixels.

    Returns
    -------
    Tensor, shape (..., 2)
        Pixel ``(row, col)``; pixel centres at integers, origin top left.
    """
    h, w = shape
    col = (grid[..., 0] + 1) / 2 * (w - 1)
    row = (grid[..., 1] + 1) / 2 * (h - 1)
    return torch.stack([row, col], dim=-1) + offset


def pixels_to_grid(pixels: torch.Tensor, shape: Sequence[int], offset: float = 0.0) -> torch.Tensor:
    """Inverse of :func:`grid_to_pixels`: pixel ``(row, col)`` -> normalised ``(x, y)``."""
    h, w = shape
    rc = torch.as_tensor(pixels, dtype=torch.float32) - offset
    x = 2 * rc[..., 1] / (w - 1) - 1
    y = 2 * rc[..., 0] / (h - 1) - 1
    return torch.stack([x, y], dim=-1)


def _read_grid(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear read of ``x (B, C, H, W)`` at ``grid (B, n, 2)`` -> ``(B, C, n)``."""
    return F.grid_sample(x, grid[:, :, None, :], align_corners=True)[..., 0]


def read_features(features: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Feature vectors at continuous pixel positions, by bilinear interpolation.

    Parameters
    ----------
    features : Tensor, shape (B, C, H, W)
    pixels : Tensor, shape (n, 2)
        Positions ``(row, col)`` in pixels (pixel centres at integers), inside the map.

    Returns
    -------
    Tensor, shape (B, C, n)
        ``out[b, c, i]`` interpolates ``features[b, c]`` between the four pixels around
        ``pixels[i]``; exactly ``features[b, c, row, col]`` at integer positions.
    """
    grid = pixels_to_grid(pixels, features.shape[-2:]).to(features)
    return _read_grid(features, grid.expand(features.shape[0], -1, -1))


class FullyConnectedReadout(nn.Module):
    """One linear map from all features to every neuron.

    Parameters
    ----------
    in_shape : (channels, height, width)
        Feature-map shape.
    n_neurons : int
        Number of neurons.
    mean_response : array, shape (n_neurons,), optional
        Initialises the bias so that an untrained model predicts the mean response (with the
        encoder's ``ELU + 1``).
    gamma : float
        Weight of the ridge penalty ``gamma * sum(weights**2)`` (summed over neurons, like the
        training loss, so ``gamma`` is a per-neuron trade-off).
    gamma_smooth : float
        Weight of the Laplace-L2 smoothness penalty of each neuron's weights seen as maps
        ``(channels, height, width)`` (:func:`~.cores.laplace_l2` without normalisation, summed
        over neurons): smooth spatial filters, as receptive fields are.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        n_neurons: int,
        *,
        mean_response: np.ndarray | torch.Tensor | None = None,
        gamma: float = 1.0,
        gamma_smooth: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        self.n_neurons = n_neurons
        self.gamma = gamma
        self.gamma_smooth = gamma_smooth
        self.linear = nn.Linear(int(np.prod(self.in_shape)), n_neurons)
        with torch.no_grad():
            self.linear.weight.mul_(0.1)
            self.linear.bias.copy_(_initial_bias(mean_response, n_neurons))

    def forward(self, x: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        """Features ``(B, C, H, W)`` -> ``(B, n_neurons)``; ``shift`` must be ``None``."""
        _check_features(x, self.in_shape, type(self).__name__)
        if shift is not None:
            raise ValueError("a FullyConnectedReadout cannot shift RFs; use a GaussianReadout")
        return self.linear(x.flatten(1))

    @property
    def weight_maps(self) -> torch.Tensor:
        """The weights as maps ``(n_neurons, channels, height, width)`` (each neuron's filter)."""
        return self.linear.weight.view(self.n_neurons, *self.in_shape)

    def regularizer(self) -> torch.Tensor:
        """Ridge plus smoothness penalty (see the class docstring); a scalar tensor."""
        penalty = self.gamma * self.linear.weight.pow(2).sum()
        if self.gamma_smooth:
            penalty = penalty + self.gamma_smooth * laplace_l2(self.weight_maps, normalize=False)
        return penalty


#: The output nonlinearities :class:`FactorizedReadout` offers.
FACTORIZED_NONLINEARITIES = ("linear", "softplus", "elu1")


class FactorizedReadout(nn.Module):
    """Spatial mask x feature weights readout (Klindt et al. 2017; Cadena et al. 2019).

    Neuron ``n`` predicts
    ``f(sum_{c,y,x} features[c, y, x] * mask[n, y, x] * weights[n, c] + bias[n])``: a where
    (mask) times a what (feature vector), far fewer parameters than a full linear readout
    (``n * (h*w + c)`` instead of ``n * h*w*c``), followed by an output nonlinearity ``f``.
    Read out of frozen features of a task-trained network, as Cadena et al. (2019, PLoS Comput
    Biol 15:e1006897) did for VGG-19 and macaque V1, the readout is the whole trainable model, so
    it carries the nonlinearity that makes its outputs firing rates; with ``"linear"`` it is a
    pre-nonlinearity readout like the others.

    Parameters
    ----------
    in_shape : (channels, height, width)
        Feature-map shape.
    n_neurons : int
        Number of neurons.
    nonlinearity : {"linear", "softplus", "elu1"}
        ``f``: none (any sign), ``softplus`` or ``ELU + 1``; the last two give positive rates,
        as a Poisson loss needs.
    smoothness : float
        Weight of the mask smoothness penalty: squared Laplacian of each mask, summed over
        positions, mean over neurons.
    mask_sparsity, feature_sparsity : float
        Weights of the L1 penalties on the masks and on the feature weights (sum per neuron, mean
        over neurons).
    group_sparsity : float
        Weight of the group-sparsity penalty on the feature weights: the L2 norm over neurons of
        each channel's weights, summed over channels (a group lasso; it switches off channels no
        neuron needs), divided by ``sqrt(n_neurons)``.

    Notes
    -----
    The penalties are those of Cadena et al. (2019): smoothness (Laplacian) and sparsity of the
    spatial masks, sparsity of the feature weights, and group sparsity (which they put on the
    filters of their convolutional core; here on the channels the readout reads).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        n_neurons: int,
        *,
        nonlinearity: str = "linear",
        smoothness: float = 1e-3,
        mask_sparsity: float = 1e-4,
        feature_sparsity: float = 1e-4,
        group_sparsity: float = 0.0,
    ) -> None:
        super().__init__()
        if len(in_shape) != 3:
            raise ValueError(f"in_shape must be (channels, height, width), got {in_shape}")
        if nonlinearity not in FACTORIZED_NONLINEARITIES:
            raise ValueError(
                f"nonlinearity must be one of {FACTORIZED_NONLINEARITIES}, got {nonlinearity!r}"
            )
        penalties = {
            "smoothness": smoothness,
            "mask_sparsity": mask_sparsity,
            "feature_sparsity": feature_sparsity,
            "group_sparsity": group_sparsity,
        }
        for name, value in penalties.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        c, h, w = (int(s) for s in in_shape)
        self.in_shape = (c, h, w)
        self.n_neurons = n_neurons
        self.nonlinearity = nonlinearity
        self.smoothness = smoothness
        self.mask_sparsity = mask_sparsity
        self.feature_sparsity = feature_sparsity
        self.group_sparsity = group_sparsity
        self.mask = nn.Parameter(torch.full((n_neurons, h, w), 1.0 / (h * w)))
        self.weights = nn.Parameter(torch.randn(n_neurons, c) / math.sqrt(c))
        self.bias = nn.Parameter(torch.zeros(n_neurons))

    def drive(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``(B, C, H, W)`` -> ``(B, n_neurons)`` before the output nonlinearity."""
        _check_features(x, self.in_shape, type(self).__name__)
        # what first: (B, C, S) x (N, C) -> (B, N, S), then where: sum over S with the masks
        what = torch.einsum("bcs,nc->bns", x.flatten(2), self.weights)
        return (what * self.mask.flatten(1)).sum(-1) + self.bias

    def forward(self, x: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        """Features ``(B, C, H, W)`` -> ``(B, n_neurons)`` responses; ``shift`` must be ``None``."""
        if shift is not None:
            raise ValueError("a FactorizedReadout cannot shift RFs; use a GaussianReadout")
        drive = self.drive(x)
        if self.nonlinearity == "softplus":
            return F.softplus(drive)
        if self.nonlinearity == "elu1":
            return F.elu(drive) + 1
        return drive

    def regularizer(self) -> torch.Tensor:
        """Mask smoothness and sparsity, feature-weight sparsity and group sparsity (a scalar)."""
        m = self.mask.unsqueeze(1)
        kernel = torch.tensor(
            [[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]], device=m.device
        ).view(1, 1, 3, 3)
        lap = F.conv2d(F.pad(m, (1, 1, 1, 1), mode="replicate"), kernel)
        smooth = lap.pow(2).sum((1, 2, 3)).mean()
        mask_l1 = self.mask.abs().sum((1, 2)).mean()
        feature_l1 = self.weights.abs().sum(1).mean()
        group = self.weights.pow(2).sum(0).add(1e-12).sqrt().sum() / math.sqrt(self.n_neurons)
        return (
            self.smoothness * smooth
            + self.mask_sparsity * mask_l1
            + self.feature_sparsity * feature_l1
            + self.group_sparsity * group
        )


class PositionNetwork(nn.Module):
    """Maps cortical coordinates of neurons to receptive-field positions (the retinotopic map).

    A small MLP ``(x, y) -> ELU -> ... -> (x, y) -> tanh``; its inputs are the neurons' cortical
    coordinates, centred and divided by the largest absolute value (so they lie in ``[-1, 1]``),
    its output a ``grid_sample`` position in ``[-1, 1]``.

    Parameters
    ----------
    coordinates : array, shape (n_neurons, d)
        Cortical coordinates (e.g. micrometres); only the first ``in_features`` columns are used.
    in_features : int
        Coordinates used (2: cortical x and y).
    hidden_features : int
        Width of the hidden layers.
    hidden_layers : int
        Number of hidden layers (0: one linear map).
    final_tanh : bool
        Squash the output into ``(-1, 1)``.

    Notes
    -----
    Buffers: ``source_grid (n, in_features)`` normalised coordinates of the neurons,
    ``coordinate_mean (in_features,)`` and ``coordinate_scale ()`` to normalise new coordinates.
    """

    def __init__(
        self,
        coordinates: np.ndarray | torch.Tensor,
        *,
        in_features: int = 2,
        hidden_features: int = 30,
        hidden_layers: int = 1,
        final_tanh: bool = True,
    ) -> None:
        super().__init__()
        coords = torch.as_tensor(np.asarray(coordinates), dtype=torch.float64)
        if coords.ndim != 2 or coords.shape[1] < in_features:
            raise ValueError(
                f"coordinates must have shape (n_neurons, >= {in_features}), "
                f"got {tuple(coords.shape)}"
            )
        coords = coords[:, :in_features]
        mean = coords.mean(0)
        scale = (coords - mean).abs().max().clamp_min(1e-12)
        self.register_buffer("coordinate_mean", mean.float())
        self.register_buffer("coordinate_scale", scale.float())
        self.register_buffer("source_grid", ((coords - mean) / scale).float())
        widths = [in_features] + [hidden_features] * hidden_layers + [2]
        modules: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            if i > 0:
                modules.append(nn.ELU())
            modules.append(nn.Linear(a, b))
        if final_tanh:
            modules.append(nn.Tanh())
        self.mlp = nn.Sequential(*modules)

    def forward(self, coordinates: np.ndarray | torch.Tensor | None = None) -> torch.Tensor:
        """Grid positions ``(n, 2)`` of the readout's neurons, or of new raw ``coordinates``."""
        if coordinates is None:
            return self.mlp(self.source_grid)
        c = torch.as_tensor(coordinates, dtype=torch.float32, device=self.source_grid.device)
        c = c[:, : self.source_grid.shape[1]]
        return self.mlp((c - self.coordinate_mean) / self.coordinate_scale)


class GaussianReadout(nn.Module):
    """Each neuron reads the features at one learned position and weighs the channels.

    ``out[b, n] = sum_c features[c, n] * F[b, c, position_n] + bias[n]`` where ``F[b, c, p]`` is the
    feature map bilinearly interpolated at ``p`` (``torch.nn.functional.grid_sample``).

    Parameters
    ----------
    in_shape : (channels, height, width)
        Feature-map shape.
    n_neurons : int
        Number of neurons.
    mean_response : array, shape (n_neurons,), optional
        Initialises the bias so that the untrained model (with ``ELU + 1``) predicts it.
    position_network : PositionNetwork, optional
        Predicts positions from cortical coordinates; then there are no free positions ``mu``.
    init_mu_range : float
        Free positions start uniform in ``[-init_mu_range, init_mu_range]``.
    init_sigma : float
        The square root ``sigma`` (2x2 per neuron) of the position covariance starts uniform in
        ``[-init_sigma, init_sigma]``.
    sample : bool
        Sample positions ``mu + sigma @ z`` (``z ~ N(0, I)``, one per image) in training mode.
    gamma : float
        Weight of the L1 penalty on the feature weights, ``gamma * sum |features|`` (summed over
        channels and neurons, like the training loss).

    Notes
    -----
    Parameters: ``features (channels, n)``, ``sigma (n, 2, 2)``, ``bias (n,)``, and ``mu (n, 2)``
    unless a position network is used. Positions are clamped to ``[-1, 1]`` (the map's extent).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        n_neurons: int,
        *,
        mean_response: np.ndarray | torch.Tensor | None = None,
        position_network: PositionNetwork | None = None,
        init_mu_range: float = 0.3,
        init_sigma: float = 0.1,
        sample: bool = True,
        gamma: float = 0.1,
    ) -> None:
        super().__init__()
        if not 0 < init_mu_range <= 1:
            raise ValueError(f"init_mu_range must be in (0, 1], got {init_mu_range}")
        self.in_shape = tuple(int(s) for s in in_shape)
        self.n_neurons = n_neurons
        self.sample = sample
        self.gamma = gamma
        channels = self.in_shape[0]
        if position_network is None:
            mu = torch.empty(n_neurons, 2).uniform_(-init_mu_range, init_mu_range)
            self.mu = nn.Parameter(mu)
        else:
            if position_network.source_grid.shape[0] != n_neurons:
                raise ValueError(
                    f"the position network has coordinates of "
                    f"{position_network.source_grid.shape[0]} neurons, expected {n_neurons}"
                )
            self.position_network = position_network
        self.sigma = nn.Parameter(torch.empty(n_neurons, 2, 2).uniform_(-init_sigma, init_sigma))
        self.features = nn.Parameter(torch.full((channels, n_neurons), 1.0 / channels))
        self.bias = nn.Parameter(_initial_bias(mean_response, n_neurons))

    @property
    def has_position_network(self) -> bool:
        return "position_network" in self._modules

    def positions(self) -> torch.Tensor:
        """Mean read-out positions ``(n, 2)``, normalised ``(x, y)`` in ``[-1, 1]``."""
        mu = self.position_network() if self.has_position_network else self.mu
        return mu.clamp(-1, 1)

    def positions_pixels(self, offset: float = 0.0) -> torch.Tensor:
        """Mean positions as feature-map pixel ``(row, col)`` (``+ offset``), shape ``(n, 2)``."""
        return grid_to_pixels(self.positions(), self.in_shape[1:], offset)

    def forward(
        self, x: torch.Tensor, shift: torch.Tensor | None = None, sample: bool | None = None
    ) -> torch.Tensor:
        """Features ``(B, C, H, W)`` -> ``(B, n_neurons)``.

        Parameters
        ----------
        x : Tensor, shape (B, C, H, W)
        shift : Tensor, shape (B, 2), optional
            Added to every neuron's position (normalised ``(x, y)``; from a shifter).
        sample : bool, optional
            Sample positions; default: ``self.sample and self.training``.
        """
        _check_features(x, self.in_shape, type(self).__name__)
        batch = x.shape[0]
        if not self.has_position_network and self.training:
            with torch.no_grad():  # keep free positions on the map (else their gradient is 0)
                self.mu.clamp_(-1, 1)
        mu = self.positions()
        if sample is None:
            sample = self.sample and self.training
        if sample:
            z = torch.randn(batch, self.n_neurons, 2, device=x.device, dtype=x.dtype)
            grid = mu + torch.einsum("nij,bnj->bni", self.sigma, z)
        else:
            grid = mu.expand(batch, -1, -1)
        grid = grid.clamp(-1, 1)
        if shift is not None:  # may move a position off the map: it then reads zeros
            grid = grid + shift[:, None, :]
        # a product and a sum over channels: einsum would run n tiny matrix products on a CPU
        return (_read_grid(x, grid) * self.features).sum(dim=1) + self.bias

    def regularizer(self) -> torch.Tensor:
        """``gamma * sum |features|`` (sparse channel weights)."""
        return self.gamma * self.features.abs().sum()


class MultiReadout(nn.ModuleDict):
    """One readout per data key (recording session); all read the same core.

    Parameters
    ----------
    readouts : mapping of str to readout
        E.g. ``{"session_a": GaussianReadout(...), "session_b": GaussianReadout(...)}``.
    """

    def __init__(self, readouts: Mapping[str, nn.Module]) -> None:
        if not readouts:
            raise ValueError("MultiReadout needs at least one readout")
        super().__init__(dict(readouts))

    def resolve(self, data_key: str | None) -> str:
        """The key to use: ``data_key``, or the only key when ``None``; errors list the keys."""
        keys = list(self.keys())
        if data_key is None:
            if len(keys) == 1:
                return keys[0]
            raise ValueError(f"this model has several readouts; pass data_key, one of {keys}")
        if data_key not in self:
            raise KeyError(f"unknown data_key {data_key!r}; this model's readouts are {keys}")
        return data_key

    def forward(
        self, x: torch.Tensor, data_key: str | None = None, shift: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Run the readout of ``data_key`` on features ``x`` -> ``(B, n_neurons(data_key))``."""
        return self[self.resolve(data_key)](x, shift=shift)

    def regularizer(self, data_key: str | None = None) -> torch.Tensor:
        """The regulariser of the readout of ``data_key``."""
        return self[self.resolve(data_key)].regularizer()
