"""StaticDataset, normalisation from training statistics, seeded loaders, test repeats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artiphys_course.data import static
from artiphys_course.data.static import Batch, Normalizer, StaticDataset, dataloaders


def toy_dataset(*, n_images=30, n_neurons=6, pupil=True, seed=0) -> StaticDataset:
    """20 train + 5 validation trials on distinct images, 5 test images x 4 repeats.

    Neuron 0 responds with the trial index, so a batch tells which trials it holds.
    """
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, size=(n_images, 1, 4, 5)).astype(np.float32)
    ids = np.concatenate([np.arange(25), np.repeat(np.arange(25, 30), 4)])
    tiers = np.array(["train"] * 20 + ["validation"] * 5 + ["test"] * 20)
    responses = rng.poisson(3.0, size=(len(ids), n_neurons)).astype(np.float32)
    responses[:, 0] = np.arange(len(ids))
    return StaticDataset(
        images,
        responses,
        ids,
        tiers,
        pupil_center=rng.normal(size=(len(ids), 2)) if pupil else None,
        cell_motor_coordinates=rng.uniform(0, 500, size=(n_neurons, 3)),
    )


def _epoch(loader) -> Batch:
    batches = list(loader)
    pupil = (
        None if batches[0].pupil_center is None else torch.cat([b.pupil_center for b in batches])
    )
    return Batch(
        torch.cat([b.images for b in batches]), torch.cat([b.responses for b in batches]), pupil
    )


def test_statistics_match_numpy_on_training_trials():
    ds = toy_dataset()
    train = np.flatnonzero(ds.tiers == "train")
    pixels = np.stack([ds.images[ds.trial_image_ids[t]] for t in train])
    assert ds.statistics["images"]["mean"].shape == ()
    np.testing.assert_allclose(ds.statistics["images"]["mean"], pixels.mean(), rtol=1e-6)
    np.testing.assert_allclose(ds.statistics["images"]["std"], pixels.std(), rtol=1e-6)
    np.testing.assert_allclose(ds.statistics["images"]["median"], np.median(pixels), rtol=1e-6)
    for key in ("responses", "pupil_center"):
        values = getattr(ds, key)[train]
        for stat, fn in [("mean", np.mean), ("std", np.std), ("min", np.min), ("max", np.max)]:
            np.testing.assert_allclose(ds.statistics[key][stat], fn(values, axis=0), rtol=1e-5)


def test_train_loader_is_standardised_and_invertible():
    ds = toy_dataset()
    loaders = dataloaders(ds, batch_size=7, seed=0)
    epoch = _epoch(loaders["train"])
    assert len(epoch.images) == 20
    assert abs(epoch.images.mean().item()) < 1e-5
    assert epoch.images.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)
    std = epoch.responses.std(dim=0, unbiased=False)
    np.testing.assert_allclose(std.numpy(), 1.0, atol=1e-5)
    assert (epoch.responses >= 0).all()  # divided, not mean-subtracted: Poisson-ready
    np.testing.assert_allclose(epoch.pupil_center.mean(0).numpy(), 0.0, atol=1e-5)

    norm = loaders["test"].normalizer
    assert isinstance(norm, Normalizer) and norm is loaders["train"].normalizer
    test = _epoch(loaders["test"])
    trials = loaders["test"].dataset.trial_indices
    raw_images = ds.trial_images(trials)
    np.testing.assert_allclose(norm.inverse_images(test.images).numpy(), raw_images, atol=1e-3)
    np.testing.assert_allclose(
        norm.inverse_responses(test.responses).numpy(), ds.responses[trials], rtol=1e-6
    )
    # the same transform works on NumPy arrays
    np.testing.assert_allclose(
        norm.images(ds.images[:3]), (ds.images[:3] - norm.image_mean) / norm.image_std
    )


def test_normalizer_keeps_float_results_for_integer_counts():
    norm = Normalizer(image_mean=0.0, image_std=1.0, response_scale=np.array([2.0, 4.0], "f4"))
    counts = np.array([[3, 3]])
    np.testing.assert_allclose(norm.responses(counts), [[1.5, 0.75]])
    np.testing.assert_allclose(norm.responses(torch.from_numpy(counts)).numpy(), [[1.5, 0.75]])
    assert norm.responses(torch.ones(1, 2, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(ValueError, match="pupil"):
        norm.pupil_center(np.zeros((1, 2)))


def test_silent_neuron_gets_floored_scale():
    ds = toy_dataset()
    ds.responses[:, 1] = 0.0
    ds.statistics = ds.training_statistics()
    norm = ds.normalizer()
    assert norm.response_scale[1] == pytest.approx(0.01 * ds.statistics["responses"]["std"].mean())
    epoch = _epoch(dataloaders(ds)["train"])
    assert torch.isfinite(epoch.responses).all() and (epoch.responses[:, 1] == 0).all()


def test_unnormalised_batches_hold_the_right_trials():
    ds = toy_dataset(pupil=False)
    loaders = dataloaders(ds, batch_size=4, normalize=False, device="cpu")
    assert loaders["train"].normalizer is None
    for tier, loader in loaders.items():
        for batch in loader:
            assert isinstance(batch, Batch) and batch.pupil_center is None
            trials = batch.responses[:, 0].long().numpy()
            assert set(ds.tiers[trials]) == {tier}
            np.testing.assert_array_equal(batch.images.numpy(), ds.trial_images(trials))
            np.testing.assert_array_equal(batch.responses.numpy(), ds.responses[trials])
    # single items collate like batches
    item = loaders["test"].dataset[3]
    assert item.images.shape == (1, 4, 5) and item.responses.shape == (6,)
    stacked = static.collate_batch([loaders["test"].dataset[i] for i in range(3)])
    batch = loaders["test"].dataset.__getitems__([0, 1, 2])
    assert stacked.pupil_center is None and batch.pupil_center is None
    for got, expected in zip(stacked[:2], batch[:2], strict=True):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_shuffling_is_seeded_and_covers_every_trial_once():
    ds = toy_dataset()

    def order(seed, epochs=2):
        loader = dataloaders(ds, batch_size=6, normalize=False, seed=seed)["train"]
        return [_epoch(loader).responses[:, 0].long().tolist() for _ in range(epochs)]

    first, again, other = order(0), order(0), order(1)
    assert first == again
    assert first != other
    assert first[0] != first[1]  # a new order every epoch
    assert sorted(first[0]) == list(range(20))
    validation = _epoch(dataloaders(ds, normalize=False)["validation"])
    assert validation.responses[:, 0].long().tolist() == list(range(20, 25))  # never shuffled


def test_test_repeats_groups_by_image():
    ds = toy_dataset()
    images, responses = static.test_repeats(ds)
    assert images.shape == (5, 1, 4, 5) and len(responses) == 5
    for k, image_row in enumerate(range(25, 30)):
        np.testing.assert_array_equal(images[k], ds.images[image_row])
        trials = np.flatnonzero((ds.trial_image_ids == image_row) & (ds.tiers == "test"))
        np.testing.assert_array_equal(responses[k], ds.responses[trials])
    _, scaled = static.test_repeats(ds, normalize=True)
    np.testing.assert_allclose(scaled[0], responses[0] / ds.normalizer().response_scale)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(images=a["images"][:, 0]), r"images\[:, None\]"),
        (lambda a: a.update(responses=a["responses"][:, :, None]), "n_trials, n_neurons"),
        (lambda a: a["responses"].__setitem__((3, 2), np.nan), "NaN"),
        (lambda a: a["trial_image_ids"].__setitem__(0, 30), "30 images"),
        (lambda a: a.update(trial_image_ids=a["trial_image_ids"].astype(float)), "integers"),
        (lambda a: a.update(tiers=np.array(["test"] * 45)), "no 'train'"),
        (lambda a: a.update(pupil_center=np.zeros((45, 3))), r"\(45, 2\)"),
        (lambda a: a.update(cell_motor_coordinates=np.zeros((5, 3))), r"\(6, 3\)"),
    ],
)
def test_construction_validates_with_clear_errors(change, message):
    ds = toy_dataset()
    args = {
        "images": ds.images.copy(),
        "responses": ds.responses.copy(),
        "trial_image_ids": ds.trial_image_ids.copy(),
        "tiers": ds.tiers.copy(),
        "pupil_center": ds.pupil_center.copy(),
        "cell_motor_coordinates": ds.cell_motor_coordinates.copy(),
    }
    change(args)
    with pytest.raises(ValueError, match=message):
        StaticDataset(
            args.pop("images"), args.pop("responses"), args.pop("trial_image_ids"),
            args.pop("tiers"), **args,
        )  # fmt: skip


def test_loader_errors_and_repr():
    ds = toy_dataset()
    with pytest.raises(KeyError, match="tiers present"):
        ds.tier_indices("final_test")
    with pytest.raises(ValueError, match="batch_size"):
        dataloaders(ds, batch_size=0)
    no_test = StaticDataset(ds.images, ds.responses[:25], ds.trial_image_ids[:25], ds.tiers[:25])
    with pytest.raises(ValueError, match=r"\['test'\]"):
        dataloaders(no_test)
    assert "45 trials (test=20, train=20, validation=5)" in repr(ds)


@pytest.fixture(scope="module")
def small_dv1():
    from artiphys_course.simulate import make_digital_v1

    return make_digital_v1(
        n_neurons=30, image_shape=(18, 32), n_train=60, n_validation=10, n_test_images=5,
        n_repeats=4, seed=3,
    )  # fmt: skip


def test_from_digital_v1_keeps_trials_and_truth(small_dv1):
    ds = StaticDataset.from_digital_v1(small_dv1)
    assert ds.truth is small_dv1 and ds.image_shape == (18, 32)
    for key in ("images", "responses", "trial_image_ids", "tiers", "pupil_center"):
        np.testing.assert_array_equal(getattr(ds, key), getattr(small_dv1, key), err_msg=key)
    np.testing.assert_array_equal(ds.cell_motor_coordinates, small_dv1.cell_motor_coordinates)
    # grouping agrees with the simulator's own (independent) grouping
    images, responses = static.test_repeats(ds)
    rows, grouped = small_dv1.test_repeats("responses")
    np.testing.assert_array_equal(images, small_dv1.images[rows])
    np.testing.assert_array_equal(np.stack(responses), grouped)
    loaders = dataloaders(ds, batch_size=16, seed=0)
    assert [len(loader.dataset) for loader in loaders.values()] == [60, 10, 20]
    epoch = _epoch(loaders["train"])
    assert abs(epoch.images.mean().item()) < 1e-4 and (epoch.responses >= 0).all()


def test_plots_show_the_data():
    import matplotlib.pyplot as plt

    from artiphys_course.plotting.data import plot_batch, plot_test_repeats

    ds = toy_dataset()
    loader = dataloaders(ds, batch_size=8)["validation"]
    fig = plot_batch(next(iter(loader)), normalizer=loader.normalizer, n_images=3, n_neurons=4)
    trials = loader.dataset.trial_indices[:3]
    heat = next(ax for ax in fig.axes if ax.get_ylabel() == "neuron")
    np.testing.assert_allclose(heat.images[0].get_array(), ds.responses[trials, :4].T, rtol=1e-5)
    first = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(first, ds.trial_images(trials[0])[0], atol=1e-3)
    plt.close(fig)

    fig = plot_test_repeats(ds, neurons=(1, 2), n_images=5)
    _, grouped = static.test_repeats(ds)
    means = np.sort([g[:, 2].mean() for g in grouped])
    np.testing.assert_allclose(fig.axes[1].lines[-1].get_ydata(), means, rtol=1e-6)
    plt.close(fig)
    with pytest.raises(IndexError, match="has 6"):
        plot_test_repeats(ds, neurons=(6,))
