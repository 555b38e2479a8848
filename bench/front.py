"""nginx in front of the servers, as in production, for ``bench.network``.

Production puts nginx before gunicorn's sync workers (the project's deploy files): nginx
keeps each phone's connection alive between requests and reads requests and answers whole,
so a slow link never holds a worker. On a 400 ms link the kept-alive connection is worth a
round trip per request, so ``bench.network`` measures through the same front: one nginx,
one ``server`` per backend, listening on the veth's root end, with the deploy site's
keep-alive, buffering and body-size settings (no TLS: its handshake would add one more
round trip per new connection; ``gzip off`` - compression is the app's business).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.services import Cleanup, Server, find_free_port, start_server

SERVER_BLOCK = """
    upstream {name} {{ server 127.0.0.1:{upstream}; keepalive 8; }}
    server {{
        listen {listen_ip}:{port};
        client_max_body_size 33m;
        client_body_buffer_size 256k;
        client_header_timeout 20s;
        client_body_timeout 120s;
        send_timeout 120s;
        keepalive_timeout 75s;
        keepalive_requests 1000;
        gzip off;
        location / {{
            proxy_pass http://{name};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_request_buffering on;
            proxy_buffering on;
            proxy_buffer_size 64k;
            proxy_buffers 32 64k;
            proxy_busy_buffers_size 128k;
            proxy_read_timeout 600s;
        }}
    }}
"""


def nginx_available() -> bool:
    return shutil.which("nginx") is not None


class NginxFront:
    """One nginx process with a server per backend; ``ports[name]`` is where it listens."""

    def __init__(self, listen_ip: str, upstreams: dict[str, int], cleanup: Cleanup) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fs_bench_nginx_"))
        self.dir.chmod(0o755)
        cleanup.add(f"folder {self.dir}", lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self.ports = {name: find_free_port() for name in upstreams}
        blocks = "".join(
            SERVER_BLOCK.format(name=name, upstream=port, listen_ip=listen_ip, port=self.ports[name])
            for name, port in upstreams.items()
        )
        temp = "".join(
            f"    {kind}_temp_path {self.dir / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf = self.dir / "nginx.conf"
        conf.write_text(
            f"worker_processes 1;\ndaemon off;\npid {self.dir / 'nginx.pid'};\n"
            f"error_log {self.dir / 'error.log'} warn;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    access_log off;\n{temp}{blocks}}}\n"
        )
        argv = ["nginx", "-c", str(conf), "-p", str(self.dir), "-e", str(self.dir / "error.log")]
        self.server: Server = start_server(
            "nginx", argv, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, self.dir, cleanup, self.dir
        )
        self.server.wait_until_answers(f"http://{listen_ip}:{next(iter(self.ports.values()))}/", timeout=30)
