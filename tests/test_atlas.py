"""The atlas: full mapping of units, files on disk, and the static site in a real browser."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from artiphys_course.atlas import export_unit_results, map_units, write_atlas_site

SMALL = dict(lengths=(0.75, 0.375), aspect_ratios=(0.5,), n_orientations=4, n_positions=5)


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 7, stride=2, padding=3), nn.ReLU(), nn.Conv2d(6, 4, 3, padding=1)
    ).eval()


@pytest.fixture(scope="module")
def results():
    images = torch.rand(12, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    return map_units(
        _net(),
        "2",
        images,
        channels=[0, 2, 3],
        name="conv2",
        top_n=20,
        top_n_patches=4,
        bar_options=SMALL,
        color_options=dict(SMALL, n_positions=3),
        progress=False,
    )


def test_export_writes_tables_arrays_images_and_summary(results, tmp_path):
    out = export_unit_results(results, tmp_path / "atlas")
    assert out == tmp_path / "atlas" / "conv2"
    with open(out / "units.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["unit"]) for r in rows] == [0, 2, 3]
    for key in (
        "rf_size",
        "fit_r2",
        "preferred_orientation_deg",
        "selectivity",
        "top_patch_images",
    ):
        assert key in rows[0]
    assert rows[0]["rf_size"] == "11"
    top = [int(v) for v in rows[1]["top_patch_images"].split(";")]
    assert top == results.patches.top_index[1].tolist()
    assert np.load(out / "bar_maps.npy").shape == (3, results.xn, results.xn)
    meis = np.load(out / "meis.npy")
    assert meis.shape[0] == 3 and meis.shape[-2:] == (results.xn, results.xn)
    assert (out / "png" / "unit2_mei.png").is_file()
    assert np.load(out / "color_maps.npy").shape == (3, 3, results.xn, results.xn)
    assert np.load(out / "top_patches.npy").shape == (3, 4, 3, 11, 11)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rf_size"] == 11 and summary["xn"] == results.xn
    assert len(summary["units"]) == 3 and summary["color_pairs"][:2] == [
        "white/black",
        "black/white",
    ]
    import matplotlib.image

    for stem in ("barmap", "color", "top", "bottom"):
        image = matplotlib.image.imread(out / "png" / f"unit2_{stem}.png")
        assert image.ndim == 3 and image.shape[2] in (3, 4)
    # rerun: replaced as a whole, nothing left beside it
    (out / "stale.txt").write_text("old")
    again = export_unit_results(results, tmp_path / "atlas")
    assert not (again / "stale.txt").exists() and (again / "units.csv").is_file()
    assert sorted(p.name for p in (tmp_path / "atlas").iterdir()) == ["conv2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atlas"]


def test_bad_input_is_named(results, tmp_path):
    net, images = _net(), torch.rand(4, 3, 40, 40)
    with pytest.raises(KeyError):
        map_units(net, "features.9", images, progress=False)
    with pytest.raises(IndexError):
        map_units(net, "2", images, channels=[7], progress=False)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        map_units(net, "2", torch.rand(4, 1, 40, 40), progress=False)
    with pytest.raises(ValueError, match="RF size 11"):
        map_units(net, "2", torch.rand(4, 3, 8, 8), progress=False)
    a_file = tmp_path / "results.txt"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        export_unit_results(results, a_file)
    with pytest.raises(FileNotFoundError, match="export_unit_results"):
        write_atlas_site(tmp_path / "empty", ["conv2"])


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chrome is None or driver_path is None:
        pytest.skip(
            "no chromium / chromedriver installed (apt-get install chromium chromium-driver)"
        )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def test_the_site_loads_every_image_and_sorts_units(results, tmp_path):
    site = tmp_path / "site"
    export_unit_results(results, site)
    index = write_atlas_site(site, ["conv2"], title="test atlas")
    assert index == site / "index.html"
    page = (site / "conv2.html").read_text()
    assert "http://" not in page and "https://" not in page  # works offline
    browser = _browser()
    try:
        browser.get(index.as_uri())
        browser.find_element("link text", "conv2").click()
        assert browser.title == "conv2"
        images = browser.find_elements("tag name", "img")
        assert len(images) == 3 * 5
        loaded = browser.execute_script(
            "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
        )
        assert all(loaded), loaded

        def order():
            return [
                c.get_attribute("data-unit") for c in browser.find_elements("css selector", ".unit")
            ]

        assert order() == ["0", "2", "3"]
        sorted_orders = []
        for key, column in (("fit", "fit_r2"), ("selectivity", "selectivity")):
            browser.find_element("id", f"sort-{key}").click()
            values = {str(r["unit"]): r[column] for r in results.table()}
            expected = sorted(values, key=lambda u: -(values[u] if values[u] is not None else -1))
            assert order() == expected
            sorted_orders.append(order())
        assert any(o != ["0", "2", "3"] for o in sorted_orders)  # sorting really reorders
        browser.find_element("id", "sort-unit").click()
        assert order() == ["0", "2", "3"]
        browser.find_element("id", "sort-selectivity").click()
        shot = tmp_path / "atlas.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 1000
    finally:
        browser.quit()


def test_cli_builds_an_alexnet_atlas_and_names_bad_input(tmp_data_dir, tmp_path, capsys):
    from artiphys_course.course.cli import main

    out = tmp_path / "atlas"
    argv = ["atlas", "--layers", "conv1", "--units", "2", "--out", str(out)]
    with pytest.warns(Warning):  # offline: untrained AlexNet and simulated images, with notices
        code = main([*argv, "--weights", "untrained", "--positions", "3"])
    assert code == 0 and "open" in capsys.readouterr().out
    assert (out / "index.html").is_file() and (out / "conv1.html").is_file()
    with open(out / "conv1" / "units.csv") as fh:
        assert [row["unit"] for row in csv.DictReader(fh)] == ["0", "63"]
    assert main(["atlas", "--layers", "conv9", "--out", str(out), "--weights", "untrained"]) == 2
    assert "unknown layer 'conv9'" in capsys.readouterr().err
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert main(["atlas", "--out", str(a_file), "--weights", "untrained"]) == 2
    assert "is a file" in capsys.readouterr().err


def test_digital_v1_atlas_shows_true_filters_beside_what_mapping_found(tmp_path):
    from artiphys_course.atlas import build_atlas
    from artiphys_course.simulate import make_digital_v1
    from artiphys_course.tuning import orientation_difference

    index = build_atlas(tmp_path, model="digital-v1", units=4, progress=False)
    layer = tmp_path / "digital_v1"
    page = (tmp_path / "digital_v1.html").read_text()
    assert index.is_file() and page.count('alt="true filter"') == 4
    filters = np.load(layer / "true_filters.npy")
    assert filters.shape == (4, 36, 64) and (layer / "png" / "unit0_filter.png").is_file()
    # the same digital V1 as build_atlas's (same seed and size): mapping finds its truth
    truth = make_digital_v1(
        n_neurons=16, n_train=1000, n_validation=0, n_test_images=1, n_repeats=2, progress=False
    ).neurons
    with open(layer / "units.csv") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        i = int(row["unit"])
        if truth.cell_type[i] != "simple":
            continue
        error = orientation_difference(
            float(row["preferred_orientation_deg"]), truth.orientation_deg[i]
        )
        assert abs(float(error)) < 15, (
            i,
            row["preferred_orientation_deg"],
            truth.orientation_deg[i],
        )
        centre = np.array([float(row["fit_row"]), float(row["fit_col"])])
        assert np.abs(centre - truth.rf_center[i]).max() < 5
        # inside its RF, the MEI of a simple cell is its filter (notebook 06's result)
        k = rows.index(row)
        mei, true = np.load(layer / "meis.npy")[k, 0], filters[k]
        rf = np.abs(true) > 0.05 * np.abs(true).max()
        assert np.corrcoef(mei[rf], true[rf])[0, 1] > 0.6  # about 0.7 after 200 steps
