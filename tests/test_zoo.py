"""The model zoo trains once per configuration and then loads identical weights from the cache."""

from __future__ import annotations

import pytest
import torch

from artiphys_course.data.static import StaticDataset
from artiphys_course.models.zoo import KINDS, build_model, trained_model
from artiphys_course.simulate import DigitalV1Config, make_digital_v1

TINY = {
    "core": {"hidden_channels": 4, "layers": 2, "input_kernel": 5, "hidden_kernel": 3},
    "train": {"max_epochs": 2},
}


@pytest.fixture(scope="module")
def tiny_dataset() -> StaticDataset:
    dv1 = make_digital_v1(
        n_neurons=12,
        image_shape=(18, 32),
        n_train=96,
        n_validation=32,
        n_test_images=8,
        n_repeats=2,
        seed=3,
    )
    return StaticDataset.from_digital_v1(dv1)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("kind", ["gaussian", "ln"])
def test_cache_hit_returns_identical_weights(tmp_data_dir, tiny_dataset, kind):
    recipe = TINY if kind != "ln" else {"train": {"max_epochs": 1}}
    model, info = trained_model(kind, dataset=tiny_dataset, recipe=recipe)
    assert not info.loaded and info.path.is_file()
    assert info.path.parent == tmp_data_dir / "models"
    assert info.history.n_epochs >= 1
    again, info2 = trained_model(kind, dataset=tiny_dataset, recipe=recipe)
    assert info2.loaded and info2.key == info.key
    assert _same_weights(model, again)
    assert info2.history.validation_score == info.history.validation_score
    x = torch.randn(3, 1, 18, 32)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
        assert (again(x) > 0).all()


def test_the_key_depends_on_seed_and_recipe(tmp_data_dir, tiny_dataset):
    _, a = trained_model("gaussian_free", dataset=tiny_dataset, recipe=TINY, seed=0)
    _, b = trained_model("gaussian_free", dataset=tiny_dataset, recipe=TINY, seed=1)
    assert a.key != b.key and not b.loaded
    other = {**TINY, "train": {"max_epochs": 1}}
    _, c = trained_model("gaussian_free", dataset=tiny_dataset, recipe=other, seed=0)
    assert c.key not in (a.key, b.key)
    assert len(list((tmp_data_dir / "models").glob("*.pt"))) == 3


def test_unknown_kind_lists_the_kinds():
    with pytest.raises(ValueError, match="gaussian_free"):
        trained_model("transformer")
    with pytest.raises(ValueError, match="choose one of"):
        build_model("svm", (1, 8, 8), 3)
    for kind in KINDS:
        assert build_model(kind, (1, 18, 32), 5)(torch.randn(2, 1, 18, 32)).shape == (2, 5)


def test_the_default_digital_v1_shares_the_cache_entry_of_dataset_none(tiny_dataset):
    from artiphys_course.models.zoo import _DEFAULT_DATA, _data_id, _is_default_digital_v1

    assert _data_id(None) == _DEFAULT_DATA
    assert _data_id(tiny_dataset) != _DEFAULT_DATA  # not the default configuration

    class Default:  # a data set whose truth has the default configuration
        truth = type("Truth", (), {"config": DigitalV1Config()})()

    class Other:  # one option differs
        truth = type("Truth", (), {"config": DigitalV1Config(n_neurons=499)})()

    assert _data_id(Default()) == _DEFAULT_DATA
    assert not _is_default_digital_v1(Other())


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "not a zoo file"])
def test_a_damaged_cached_model_is_reported_removed_and_retrained(
    tmp_data_dir, tiny_dataset, damage
):
    import os

    from artiphys_course.runtime import ArtiphysWarning

    recipe = {"train": {"max_epochs": 1}}
    model, info = trained_model("ln", dataset=tiny_dataset, recipe=recipe)
    good = info.path.read_bytes()
    if damage == "truncated":
        info.path.write_bytes(good[: len(good) // 2])
    elif damage == "random bytes":
        info.path.write_bytes(os.urandom(len(good)))
    else:
        torch.save({"weights": torch.zeros(2)}, info.path)
    with pytest.warns(ArtiphysWarning, match="trained again") as record:
        healed, info2 = trained_model("ln", dataset=tiny_dataset, recipe=recipe)
    assert str(info.path) in str(record[0].message)
    assert "weights_only=False" not in str(record[0].message)
    assert not info2.loaded and info2.path == info.path
    assert _same_weights(model, healed)  # deterministic retraining, stored again
    _, info3 = trained_model("ln", dataset=tiny_dataset, recipe=recipe)
    assert info3.loaded
