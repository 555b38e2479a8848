"""A real HTTP server on 127.0.0.1 for clients that need one (pyodk, chunked bodies): import the fixture."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server


@pytest.fixture(scope="session")
def live_server(app):
    """The test app served by werkzeug in a thread, on a free port, over the test database."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
