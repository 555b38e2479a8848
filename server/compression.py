"""Answers compressed when the client asks (``Accept-Encoding``), by flask-compress.

A collaborator's first pull of a demo commune is 89,008 bytes of JSON; over EDGE (about
25 kB/s down) that is 3.6 s of waiting, compressed it is well under half a second. JSON
(pull, records, delays, reports), OpenRosa XML (formList, forms, manifests), CSV (exports,
entity lists), HTML, CSS, JavaScript and SVG are compressed; XLSX (a zip already), images and
other binary files are not (compressing them again costs CPU and saves nothing). Every answer
says ``Vary: Accept-Encoding``. A streamed answer stays streamed: it is compressed chunk by
chunk (``COMPRESS_STREAMS``), never buffered whole.

Algorithms and levels were chosen by measurement on the demo database (pull of a commune,
89 kB; a 1,000-record page of the province, 390 kB; the delays CSV; the XForm), CPU time per
MB of input against bytes out:

============  ===============  ===============  ==========
choice        commune pull     province page    CPU per MB
============  ===============  ===============  ==========
none          89,008 B         389,907 B        0
gzip 6        11,610 (7.7x)    48,294 (8.1x)    27-29 ms
gzip 9        11,208 (7.9x)    46,402 (8.4x)    49-53 ms
br 4          10,248 (8.7x)    42,490 (9.2x)    19-21 ms
br 5          9,752 (9.1x)     40,188 (9.7x)    39-42 ms
br 11         8,666 (10.3x)    34,144 (11.4x)   4,300-4,800 ms
zstd 3        10,676 (8.3x)    45,120 (8.6x)    5 ms
zstd 9        9,957 (8.9x)     38,543 (10.1x)   28-29 ms
zstd 19       9,073 (9.8x)     35,157 (11.1x)   1,300-2,000 ms
============  ===============  ===============  ==========

The budget is ~30 ms of CPU per MB: a pull runs at ~8 MB/s of JSON per core, so this keeps
compression under a quarter of a pull's cost on the server's two cores, while every kB saved
is 40 ms less for a phone on EDGE. Within it, each algorithm at its best level: zstd 9
(smallest, and the cheapest to decompress on a phone), brotli 4, gzip 6. The next levels up
double the CPU for 3-5 % fewer bytes, and the top levels cost 100x more. Clients that accept
several get them in that order (browsers send all three; ODK Collect's OkHttp and pyodk's
requests send gzip). Answers under 500 bytes are not worth a compression header.
"""

from __future__ import annotations

from flask import Flask
from flask_compress import Compress

COMPRESSED_MIMETYPES = [
    "application/json",
    "application/problem+json",
    "application/xml",
    "text/xml",  # OpenRosa: formList, XForms, manifests, OpenRosa responses
    "text/csv",  # exports and ODK entity lists
    "text/html",
    "text/plain",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/manifest+json",
    "image/svg+xml",
]

SETTINGS = {
    "COMPRESS_MIMETYPES": COMPRESSED_MIMETYPES,
    "COMPRESS_ALGORITHM": ["zstd", "br", "gzip"],
    # flask-compress leaves gzip out of streamed answers by default; OkHttp (Collect) and
    # requests (pyodk) accept only gzip, so a streamed answer to them would go uncompressed.
    "COMPRESS_ALGORITHM_STREAMING": ["zstd", "br", "gzip"],
    "COMPRESS_STREAMS": True,
    "COMPRESS_MIN_SIZE": 500,
}


def init_app(app: Flask) -> None:
    """Attach flask-compress with the measured algorithms (levels are settings, ``config.py``).

    One ``Compress`` per app: it keeps the app's settings on itself when attached.
    """
    for key, value in SETTINGS.items():
        app.config.setdefault(key, value)
    app.extensions["compress"] = Compress(app)
