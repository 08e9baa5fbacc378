"""deploy/nginx.conf, re-pointed at a given set of nodes, address and directory.

deploy/nginx.conf is the file operators read and copy; this renders a private copy
of it (its own pid file, logs and temp paths) for deploy/cluster.py and the tests,
so that what they run is that file and not a second one that could drift from it.
"""

from __future__ import annotations

import re
from pathlib import Path

NGINX_CONF = Path(__file__).resolve().parent / "nginx.conf"
_UPSTREAM_SERVERS = re.compile(r"(        server 127\.0\.0\.1:\d+ [^\n]*\n)+")


def render(
    node_ports: list[int],
    listen: str,
    directory: Path,
    workers: str = "auto",
    access_log: bool = False,
) -> str:
    """nginx.conf for `node_ports` on 127.0.0.1, listening on `listen` (e.g.
    "127.0.0.1:8000"), with everything it writes under `directory`."""
    text = NGINX_CONF.read_text()
    servers = "".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;\n"
        for port in node_ports
    )
    text, count = _UPSTREAM_SERVERS.subn(servers, text)
    if count != 1:
        raise ValueError(f"{NGINX_CONF} no longer has the expected upstream block")
    text = text.replace("listen 8000;", f"listen {listen};")
    temp = directory / "temp"
    private = (
        f"pid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'} warn;\n"
    )
    log = f"access_log {directory / 'access.log'};" if access_log else "access_log off;"
    paths = (
        f"    {log}\n"
        f"    client_body_temp_path {temp}/body;\n"
        f"    proxy_temp_path {temp}/proxy;\n"
        f"    fastcgi_temp_path {temp}/fastcgi;\n"
        f"    uwsgi_temp_path {temp}/uwsgi;\n"
        f"    scgi_temp_path {temp}/scgi;\n"
    )
    text = text.replace(
        "worker_processes auto;", f"worker_processes {workers};\n" + private
    )
    return text.replace("http {\n", "http {\n" + paths, 1)


def write(
    node_ports: list[int], listen: str, directory: Path, workers: str = "auto"
) -> Path:
    """The rendered file, written to `directory`/nginx.conf (temp dirs made)."""
    (directory / "temp").mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(render(node_ports, listen, directory, workers))
    return conf
