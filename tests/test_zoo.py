"""The model zoo trains once per configuration and then loads identical weights from the cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artiphys_course.data.static import StaticDataset
from artiphys_course.models.zoo import KINDS, RECIPES, STOPPING, build_model, trained_model
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


def test_every_kind_trains_under_the_one_stopping_rule():
    # notebook 03 ranks the kinds as architectures: none may get a larger training budget
    assert set(RECIPES) == set(KINDS)
    for kind, recipe in RECIPES.items():
        rule = {
            key: recipe["train"].get(key) for key in ("patience", "max_epochs", "lr_decay_steps")
        }
        assert rule == {**STOPPING, "lr_decay_steps": None}, kind


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

    from artiphys_course.runtime import ArtiphysWarning

    recipe = {"train": {"max_epochs": 1}}
    model, info = trained_model("ln", dataset=tiny_dataset, recipe=recipe)
    good = info.path.read_bytes()
    if damage == "truncated":
        info.path.write_bytes(good[: len(good) // 2])
    elif damage == "random bytes":
        info.path.write_bytes(np.random.default_rng(0).bytes(len(good)))
    else:
        torch.save({"weights": torch.zeros(2)}, info.path)
    with pytest.warns(ArtiphysWarning, match="trained again") as record:
        healed, info2 = trained_model("ln", dataset=tiny_dataset, recipe=recipe)
    # torch may warn about the garbage first; the course's own notice names the file
    (ours,) = [w for w in record if issubclass(w.category, ArtiphysWarning)]
    assert str(info.path) in str(ours.message)
    assert "weights_only=False" not in str(ours.message)
    assert not info2.loaded and info2.path == info.path
    assert _same_weights(model, healed)  # deterministic retraining, stored again
    _, info3 = trained_model("ln", dataset=tiny_dataset, recipe=recipe)
    assert info3.loaded


def test_the_shipped_models_were_made_by_the_current_recipes_and_code():
    from artiphys_course.models.zoo import SHIPPED_KINDS, shipped_path

    missing = [kind for kind in SHIPPED_KINDS if not shipped_path(kind).is_file()]
    assert not missing, (
        f"the shipped models {missing} were trained by another recipe or other code: run "
        "`artiphys zoo` and commit artiphys_course/models/zoo_weights/"
    )


def test_the_shipped_model_is_loaded_without_training(tmp_data_dir, monkeypatch):
    from artiphys_course import training
    from artiphys_course.models.zoo import shipped_path

    def no_training(*args, **kwargs):
        raise AssertionError("trained although a shipped model exists")

    monkeypatch.setattr(training, "train", no_training)
    model, info = trained_model("ln", progress=False)
    assert info.loaded and info.path == shipped_path("ln")
    assert not any(tmp_data_dir.rglob("*.pt"))  # nothing copied into the user cache
    assert info.history.best_validation_score > 0.2  # LN: 0.26 on the default digital V1


def test_a_shipped_model_of_another_recipe_is_refused_with_a_notice(
    tmp_data_dir, tmp_path, monkeypatch
):
    from artiphys_course import simulate
    from artiphys_course.models import zoo
    from artiphys_course.runtime import ArtiphysWarning

    shipped = tmp_path / "zoo_weights"
    shipped.mkdir()
    torch.save({"state_dict": {}}, shipped / "ln-000000000000.pt")
    monkeypatch.setattr(zoo, "SHIPPED_DIR", shipped)

    def stop(**kwargs):
        raise KeyboardInterrupt  # the point where training would begin

    monkeypatch.setattr(simulate, "make_digital_v1", stop)
    with pytest.warns(ArtiphysWarning, match="not used"), pytest.raises(KeyboardInterrupt):
        trained_model("ln", progress=False)


@pytest.mark.slow
def test_retraining_a_shipped_model_reproduces_its_weights_and_metrics(tmp_data_dir):
    from artiphys_course.data.registry import load_torch_file
    from artiphys_course.models.zoo import shipped_path

    model, info = trained_model("ln", cached=False, progress=False)
    assert not info.loaded and info.path.parent == tmp_data_dir / "models"
    shipped = load_torch_file(shipped_path("ln"), what="the shipped LN model", remedy="")
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, shipped["state_dict"][name], rtol=1e-5, atol=1e-6)
    assert info.history.best_epoch == shipped["history"]["best_epoch"]
    assert info.history.best_validation_score == pytest.approx(
        shipped["history"]["best_validation_score"], abs=1e-5
    )
