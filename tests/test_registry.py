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
    with pytest.warns(UserWarning, match="corrupt or partial"):
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

    monkeypatch.setattr(registry, "url_answers", no_network)
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


# --- mirror (ARTIPHYS_MIRROR): every failure mode of a workshop server ---------------------------


class _MirrorHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``server.modes[path]`` = "cut" (close mid-body) or "html" (a web page)."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.gets.append(self.path)
        mode = self.server.modes.get(self.path)
        if mode == "cut":
            body = PAYLOAD
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "html":
            body = b"<!DOCTYPE html><html><body>Please log in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.fixture
def mirror_server(tmp_path, monkeypatch, online_cache):
    """A mirror on 127.0.0.1 (ephemeral port) set as ARTIPHYS_MIRROR; yields (folder, server)."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(_MirrorHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.modes, server.gets = {}, []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("ARTIPHYS_MIRROR", f"http://127.0.0.1:{server.server_address[1]}/")
    yield root, server
    server.shutdown()
    server.server_close()


def _cache_folder_is_empty(name: str) -> bool:
    folder = local_path(name).parent
    return not folder.exists() or list(folder.iterdir()) == []


def test_mirror_serves_every_file_with_a_progress_bar(mirror_server, monkeypatch, capsys):
    root, server = mirror_server
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    # a file without a public URL becomes downloadable from the mirror
    flat = _register(monkeypatch, "alexnet_conv1_3", md5=md5)
    (root / flat.filename).write_bytes(PAYLOAD)
    # a file of a cache sub-folder, served in that sub-folder (a copy of shared/data as it is)
    nested = _register(monkeypatch, "allen_readme", md5=md5)
    (root / nested.folder).mkdir()
    (root / nested.folder / nested.filename).write_bytes(PAYLOAD)

    assert registry.mirror() == registry.os.environ["ARTIPHYS_MIRROR"].rstrip("/")
    assert is_available(flat.name) and is_available(nested.name)
    assert fetch(flat.name, progress=True).read_bytes() == PAYLOAD
    assert flat.filename in capsys.readouterr().err  # the progress bar names the file
    assert local_path(flat.name).stat().st_mode & 0o044 == 0o044  # readable in a shared cache
    assert fetch(nested.name, progress=False).read_bytes() == PAYLOAD
    assert server.gets == [
        f"/{flat.filename}",
        f"/{nested.filename}",
        f"/{nested.folder}/{nested.filename}",
    ]
    assert _cache_folder_is_empty(flat.name) is False
    assert sorted(p.name for p in local_path(flat.name).parent.iterdir() if p.is_file()) == [
        flat.filename
    ]


def test_mirror_md5_mismatch_caches_nothing(mirror_server, monkeypatch):
    root, _ = mirror_server
    entry = _register(monkeypatch, md5="0" * 32)
    (root / entry.filename).write_bytes(PAYLOAD)
    with pytest.raises(DataUnavailableError) as info:
        fetch(entry.name, progress=False)
    message = str(info.value)
    assert entry.filename in message and "checksum" in message
    assert "0" * 32 in message and hashlib.md5(PAYLOAD).hexdigest() in message
    assert _cache_folder_is_empty(entry.name)


def test_mirror_interrupted_transfer_leaves_no_partial_file(mirror_server, monkeypatch):
    root, server = mirror_server
    entry = _register(monkeypatch, md5=hashlib.md5(PAYLOAD).hexdigest())
    (root / entry.filename).write_bytes(PAYLOAD)
    server.modes[f"/{entry.filename}"] = "cut"
    with pytest.raises(DataUnavailableError, match="broke off") as info:
        fetch(entry.name, progress=False)
    assert f"of {len(PAYLOAD)} bytes" in str(info.value)
    assert _cache_folder_is_empty(entry.name)  # neither the file nor a .part temporary


def test_mirror_replaces_a_corrupt_cached_copy(mirror_server, monkeypatch):
    from artiphys_course.runtime import ArtiphysWarning

    root, _ = mirror_server
    entry = _register(monkeypatch, md5=hashlib.md5(PAYLOAD).hexdigest())
    (root / entry.filename).write_bytes(PAYLOAD)
    target = local_path(entry.name)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"bit rot")
    with pytest.warns(ArtiphysWarning, match="corrupt or partial"):
        assert fetch(entry.name, progress=False).read_bytes() == PAYLOAD


def test_mirror_answering_html_is_named(mirror_server, monkeypatch):
    root, server = mirror_server
    entry = _register(monkeypatch, md5=hashlib.md5(PAYLOAD).hexdigest())
    server.modes[f"/{entry.filename}"] = "html"
    with pytest.raises(DataUnavailableError, match="HTML page") as info:
        fetch(entry.name, progress=False)
    assert registry.mirror() in str(info.value)
    assert _cache_folder_is_empty(entry.name)


def test_mirror_missing_file_names_both_addresses_tried(mirror_server, monkeypatch):
    entry = _register(monkeypatch, "allen_readme")
    with pytest.raises(DataUnavailableError, match="HTTP 404") as info:
        fetch(entry.name, progress=False)
    assert f"{entry.folder}/{entry.filename}" in str(info.value)


def test_unreachable_mirror_names_the_url(online_cache, monkeypatch):
    base = _free_port_url().rsplit("/", 1)[0]
    monkeypatch.setenv("ARTIPHYS_MIRROR", base)
    assert not is_available("stringer_orientations")
    with pytest.raises(DataUnavailableError, match="could not reach") as info:
        fetch("stringer_orientations", progress=False)
    assert f"{base}/W3D4_stringer_oribinned1.npz" in str(info.value)


def test_offline_ignores_the_mirror(mirror_server, monkeypatch):
    root, server = mirror_server
    entry = _register(monkeypatch, md5=hashlib.md5(PAYLOAD).hexdigest())
    (root / entry.filename).write_bytes(PAYLOAD)
    monkeypatch.setenv("ARTIPHYS_OFFLINE", "1")
    assert not is_available(entry.name)
    with pytest.raises(DataUnavailableError, match="ARTIPHYS_OFFLINE"):
        fetch(entry.name, progress=False)
    assert server.gets == []


# --- the one safe torch loader ------------------------------------------------------------------


class _NotATensor:
    pass


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "refused object", "empty"])
def test_load_torch_file_names_the_file_never_unsafe_advice(tmp_path, damage):
    import os

    import torch

    from artiphys_course.data.registry import UnreadableFileError, load_torch_file

    good = tmp_path / "good.pth"
    torch.save({"w": torch.arange(1000.0)}, good)
    assert torch.equal(load_torch_file(good, what="w", remedy="")["w"], torch.arange(1000.0))
    bad = tmp_path / "bad.pth"
    if damage == "truncated":
        bad.write_bytes(good.read_bytes()[:700])
    elif damage == "random bytes":
        bad.write_bytes(os.urandom(4096))
    elif damage == "refused object":
        torch.save({"w": _NotATensor()}, bad)
    else:
        bad.write_bytes(b"")
    with pytest.raises(UnreadableFileError) as info:
        load_torch_file(bad, what="the test checkpoint", remedy="Run `artiphys fetch x`.")
    message = str(info.value)
    assert str(bad) in message and "the test checkpoint" in message
    assert "artiphys fetch x" in message
    assert "weights_only=False" not in message and "set to `False`" not in message
    assert info.value.__cause__ is None and info.value.__context__ is None
    with pytest.raises(FileNotFoundError, match="artiphys fetch x"):
        load_torch_file(tmp_path / "absent.pth", what="w", remedy="Run `artiphys fetch x`.")


def test_load_registered_torch_heals_once(mirror_server, monkeypatch):
    import torch

    from artiphys_course.data.registry import UnreadableFileError, load_registered_torch
    from artiphys_course.runtime import ArtiphysWarning

    root, server = mirror_server
    good = root / "good.pth"
    torch.save({"w": torch.ones(3)}, good)
    entry = _register(monkeypatch, "sensorium_ln_model", md5=md5sum(good))
    good.rename(root / entry.filename)
    # a damaged cached copy (wrong md5) is replaced from the mirror, then loads
    target = local_path(entry.name)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"damaged")
    with pytest.warns(ArtiphysWarning, match="corrupt"):
        state = load_registered_torch(entry.name, what="the LN checkpoint", progress=False)
    assert torch.equal(state["w"], torch.ones(3)) and len(server.gets) == 1

    # a registered file torch cannot read: removed and fetched once more, then a clear error
    junk = b"not a torch file" * 10
    (root / entry.filename).write_bytes(junk)
    _register(monkeypatch, "sensorium_ln_model", md5=hashlib.md5(junk).hexdigest())
    server.gets.clear()
    with pytest.warns(ArtiphysWarning, match="removed"), pytest.raises(UnreadableFileError):
        load_registered_torch(entry.name, what="the LN checkpoint", progress=False)
    assert len(server.gets) == 2  # the first download and exactly one retry
