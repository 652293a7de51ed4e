"""Registry: checksums, atomic downloads from a local HTTP server, offline errors, imports."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import pytest

from artiphys_course.data import registry
from artiphys_course.data.registry import (
    REGISTRY,
    DataUnavailableError,
    cache_report,
    cached_path,
    fetch,
    import_file,
    import_folder,
    is_available,
    local_path,
    md5sum,
)

PAYLOAD = b"artiphys test payload " * 1000


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def http_dir(tmp_path):
    """Serve a temporary folder over HTTP on localhost; yields (folder, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def online_cache(tmp_data_dir, monkeypatch):
    """An empty cache with network access allowed (for the localhost server only)."""
    monkeypatch.delenv("ARTIPHYS_OFFLINE")
    monkeypatch.setattr(registry, "_PROBES", {})
    return tmp_data_dir


def _register(monkeypatch, name="stringer_orientations", **changes) -> registry.RemoteFile:
    entry = dataclasses.replace(REGISTRY[name], **changes)
    monkeypatch.setitem(REGISTRY, name, entry)
    return entry


def _free_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/missing.npz"


def test_registry_entries_are_complete():
    expected = {"stringer_orientations", "sensorium_sota_model", "sensorium_ln_model"}
    assert expected | {"alexnet_conv1_3"} <= set(REGISTRY)
    assert any(name.startswith("allen_") for name in REGISTRY)
    for name, entry in REGISTRY.items():
        assert entry.name == name
        assert len(entry.md5) == 32 and int(entry.md5, 16) >= 0
        assert entry.description and entry.license
        if entry.url is None:
            assert entry.how_to_obtain, name
        else:
            assert entry.url.startswith("https://"), name
    filenames = [(entry.folder, entry.filename) for entry in REGISTRY.values()]
    assert len(set(filenames)) == len(filenames)
    assert REGISTRY["stringer_orientations"].md5 == "436599dfd8ebe6019f066c38aed20580"


def test_md5sum_matches_hashlib(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(PAYLOAD * 100)
    assert md5sum(path, chunk_size=4096) == hashlib.md5(PAYLOAD * 100).hexdigest()


def test_unknown_name_lists_choices(tmp_data_dir):
    with pytest.raises(KeyError, match="stringer_orientations"):
        fetch("no_such_file")


def test_fetch_downloads_verifies_and_caches(http_dir, online_cache, monkeypatch):
    root, base = http_dir
    (root / "data.npz").write_bytes(PAYLOAD)
    entry = _register(monkeypatch, url=base + "data.npz", md5=hashlib.md5(PAYLOAD).hexdigest())
    assert cached_path(entry.name) is None
    assert is_available(entry.name)  # the host answers, nothing downloaded
    assert not local_path(entry.name).exists()

    path = fetch(entry.name, progress=False)
    assert path == local_path(entry.name) and path.read_bytes() == PAYLOAD
    assert cached_path(entry.name) == path
    # no temporary files left next to it
    assert sorted(p.name for p in path.parent.iterdir()) == [entry.filename]

    # a second fetch uses the cache even when the server is gone
    (root / "data.npz").unlink()
    assert fetch(entry.name, progress=False) == path


def test_corrupt_cache_is_fetched_again(http_dir, online_cache, monkeypatch):
    root, base = http_dir
    (root / "data.npz").write_bytes(PAYLOAD)
    entry = _register(monkeypatch, url=base + "data.npz", md5=hashlib.md5(PAYLOAD).hexdigest())
    target = local_path(entry.name)
    target.parent.mkdir(parents=True)
    target.write_bytes(PAYLOAD[: len(PAYLOAD) // 2])  # a half download
    assert cached_path(entry.name) is None
    assert fetch(entry.name, progress=False).read_bytes() == PAYLOAD


def test_bad_download_never_lands_in_cache(http_dir, online_cache, monkeypatch):
    root, base = http_dir
    (root / "data.npz").write_bytes(PAYLOAD)
    entry = _register(monkeypatch, url=base + "data.npz", md5="0" * 32)
    with pytest.raises(DataUnavailableError, match="checksum"):
        fetch(entry.name, progress=False)
    folder = local_path(entry.name).parent
    assert list(folder.iterdir()) == []  # neither the file nor a temporary


def test_unreachable_host_gives_instructions(online_cache, monkeypatch):
    url = _free_port_url()
    entry = _register(monkeypatch, url=url)
    assert not is_available(entry.name)
    with pytest.raises(ConnectionError) as info:
        fetch(entry.name, progress=False)
    message = str(info.value)
    assert url in message and str(local_path(entry.name)) in message
    assert f"artiphys fetch {entry.name}" in message and "artiphys fetch --from DIR" in message


def test_http_404_is_not_available(http_dir, online_cache, monkeypatch):
    _, base = http_dir
    entry = _register(monkeypatch, url=base + "absent.npz")
    assert not is_available(entry.name)
    with pytest.raises(DataUnavailableError):
        fetch(entry.name, progress=False)


def test_offline_never_touches_network(tmp_data_dir, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network used while offline")

    monkeypatch.setattr(registry, "_host_answers", no_network)
    monkeypatch.setattr(registry, "_download", no_network)
    assert not is_available("stringer_orientations")
    with pytest.raises(FileNotFoundError) as info:
        fetch("stringer_orientations")
    message = str(info.value)
    assert "ARTIPHYS_OFFLINE" in message
    assert "artiphys fetch stringer_orientations" in message
    assert REGISTRY["stringer_orientations"].url in message


def test_local_only_file_says_how_to_obtain(tmp_data_dir, monkeypatch):
    monkeypatch.delenv("ARTIPHYS_OFFLINE")
    with pytest.raises(DataUnavailableError) as info:
        fetch("alexnet_conv1_3")
    message = str(info.value)
    assert "rf_playground" in message and "artiphys fetch --from DIR" in message
    assert str(local_path("alexnet_conv1_3")) in message
    assert not is_available("alexnet_conv1_3")


def test_import_file_checks_md5(tmp_data_dir, tmp_path, monkeypatch):
    entry = _register(monkeypatch, md5=hashlib.md5(PAYLOAD).hexdigest())
    good = tmp_path / entry.filename
    good.write_bytes(PAYLOAD)
    good.chmod(0o444)  # shared copies are read-only; the cached copy must stay writable
    path = import_file(good)
    assert path == cached_path(entry.name) and path.read_bytes() == PAYLOAD
    assert is_available(entry.name)  # cached: available even offline
    path.write_bytes(b"damaged")  # writable

    bad = tmp_path / "other.npz"
    bad.write_bytes(b"not it")
    with pytest.raises(ValueError, match=entry.md5):
        import_file(bad, entry.name)
    with pytest.raises(KeyError, match="registered"):
        import_file(bad)
    with pytest.raises(FileNotFoundError):
        import_file(tmp_path / "absent.npz")


def test_import_folder_matches_names_in_subfolders(tmp_data_dir, tmp_path, monkeypatch):
    good = _register(monkeypatch, md5=hashlib.md5(PAYLOAD).hexdigest())
    wrong = _register(monkeypatch, "sensorium_ln_model", md5=hashlib.md5(b"x").hexdigest())
    src = tmp_path / "usb"
    (src / "deep" / "er").mkdir(parents=True)
    (src / "deep" / "er" / good.filename).write_bytes(PAYLOAD)
    (src / wrong.filename).write_bytes(b"not x")
    (src / "unrelated.txt").write_text("ignored")
    with pytest.warns(UserWarning, match=wrong.md5):
        imported = import_folder(src)
    assert imported == {good.name: local_path(good.name)}
    assert cached_path(wrong.name) is None

    rows = {row.name: row for row in cache_report()}
    assert set(rows) == set(REGISTRY)
    assert rows[good.name].cached and rows[good.name].size == len(PAYLOAD)
    assert not rows[wrong.name].cached and rows[wrong.name].path == local_path(wrong.name)


def test_import_shared_copies_verifies_md5(tmp_data_dir, shared_data):
    imported = import_folder(shared_data)
    for name in ("sensorium_sota_model", "sensorium_ln_model", "alexnet_conv1_3"):
        assert name in imported
        path = cached_path(name)
        assert path is not None and path.stat().st_size == REGISTRY[name].size
    assert {n for n in REGISTRY if n.startswith("allen_")} <= set(imported)
    assert Path(fetch("sensorium_sota_model")) == local_path("sensorium_sota_model")


def test_probe_answer_is_cached_per_process(http_dir, online_cache, monkeypatch):
    root, base = http_dir
    (root / "data.npz").write_bytes(PAYLOAD)
    entry = _register(monkeypatch, url=base + "data.npz")
    calls = []
    real_urlopen = registry.urllib.request.urlopen

    def counting_urlopen(request, timeout):
        calls.append((request.get_method(), timeout))
        return real_urlopen(request, timeout=timeout)

    monkeypatch.setattr(registry.urllib.request, "urlopen", counting_urlopen)
    assert is_available(entry.name) and is_available(entry.name)
    assert calls == [("HEAD", registry.PROBE_TIMEOUT_S)]  # one HEAD request, never a GET
    assert not local_path(entry.name).exists()
