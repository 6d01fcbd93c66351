"""skycore.download against a real HTTP server on 127.0.0.1 (in a thread)."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from skycore.download import download
from skycore.errors import ModelError

PAYLOAD = np.random.default_rng(7).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    """Serves PAYLOAD at /good, and misbehaving variants the tests arm through the server."""

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802 (http.server's name)
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        if self.path == "/error":
            self.send_error(500, "boom")
            return
        if self.path == "/missing":
            self.send_error(404, "no such file")
            return
        if self.path == "/flaky" and server.failures_left > 0:
            server.failures_left -= 1
            self.send_error(503, "try later")
            return
        start = 0
        range_header = self.headers.get("Range")
        if range_header and server.honour_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(PAYLOAD):
                self.send_error(416, "range not satisfiable")
                return
        body = PAYLOAD[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.end_headers()
        if self.path == "/truncate" and server.cuts_left > 0:
            server.cuts_left -= 1
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    httpd.failures_left = 0
    httpd.cuts_left = 0
    httpd.honour_range = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _get(server, path, dest, sha=DIGEST, **kwargs):
    return download(f"{server.base}{path}", dest, sha, progress=False, backoff=0.0, **kwargs)


def test_good_file_is_verified_and_renamed(server, tmp_path):
    dest = tmp_path / "models" / "m.onnx"
    assert _get(server, "/good", dest) == dest
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "models" / "m.onnx.part").exists()
    # A second call finds the verified file and fetches nothing.
    _get(server, "/good", dest)
    assert len(server.requests) == 1


def test_truncated_transfer_resumes_with_range(server, tmp_path):
    server.cuts_left = 2
    dest = tmp_path / "m.onnx"
    _get(server, "/truncate", dest)
    assert dest.read_bytes() == PAYLOAD
    ranges = [r for _, r in server.requests]
    assert ranges[0] is None
    assert len(ranges) == 3
    first_cut = len(PAYLOAD) // 3
    assert ranges[1] == f"bytes={first_cut}-"
    assert ranges[2] == f"bytes={first_cut + (len(PAYLOAD) - first_cut) // 3}-"


def test_existing_part_file_is_resumed(server, tmp_path):
    dest = tmp_path / "m.onnx"
    (tmp_path / "m.onnx.part").write_bytes(PAYLOAD[:123_456])
    _get(server, "/good", dest)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == [("/good", "bytes=123456-")]


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.honour_range = False
    dest = tmp_path / "m.onnx"
    (tmp_path / "m.onnx.part").write_bytes(PAYLOAD[:1000])
    _get(server, "/good", dest)
    assert dest.read_bytes() == PAYLOAD


def test_wrong_checksum_is_refused_and_deleted(server, tmp_path):
    dest = tmp_path / "m.onnx"
    with pytest.raises(ModelError, match="checksum mismatch"):
        _get(server, "/good", dest, sha="0" * 64)
    assert not dest.exists()
    assert not (tmp_path / "m.onnx.part").exists()


def test_stale_part_with_wrong_bytes_is_fetched_again(server, tmp_path):
    dest = tmp_path / "m.onnx"
    (tmp_path / "m.onnx.part").write_bytes(b"x" * 5000)
    _get(server, "/good", dest)
    assert dest.read_bytes() == PAYLOAD
    assert [r for _, r in server.requests] == ["bytes=5000-", None]


def test_persistent_server_error_fails_after_retries(server, tmp_path):
    dest = tmp_path / "m.onnx"
    with pytest.raises(ModelError, match="HTTP 500"):
        _get(server, "/error", dest, retries=2)
    assert len(server.requests) == 3
    assert not dest.exists()


def test_transient_server_error_is_retried(server, tmp_path):
    server.failures_left = 2
    dest = tmp_path / "m.onnx"
    _get(server, "/flaky", dest, retries=3)
    assert dest.read_bytes() == PAYLOAD
    assert len(server.requests) == 3


def test_not_found_fails_without_retry(server, tmp_path):
    with pytest.raises(ModelError, match="HTTP 404"):
        _get(server, "/missing", tmp_path / "m.onnx", retries=3)
    assert len(server.requests) == 1
