"""gunicorn settings for FieldSync behind nginx (``deploy/nginx/fieldsync.conf``).

    gunicorn -c deploy/gunicorn.conf.py wsgi:app

Why these:

- **sync workers, behind nginx.** A sync worker serves one request at a time, start to
  finish, so a slow client would hold it: twelve sockets trickling half a header starve four
  workers. nginx in front reads every request whole (``proxy_request_buffering on``) and
  takes every answer whole (``proxy_buffering on``) before a worker sees or frees it, so a
  worker only ever talks to nginx over loopback, at memory speed: a phone on EDGE, a
  dropped 3G link or a deliberate slowloris costs nginx a few kB each, never a worker. That
  is the setup gunicorn's own documentation asks sync workers for; with it, threads or an
  async worker class buy nothing and cost correctness care (the app's database sessions and
  the SQLite writer lock are per worker). Do not expose this port directly.
- **workers = 2 x cores + 1** (gunicorn's rule of thumb; ``WEB_CONCURRENCY`` overrides):
  a request is mostly PostgreSQL or SQLite time, and one spare worker per core keeps the CPU
  busy while others wait on the database.
- **timeout 60 s** is the longest a worker may spend on one request *after* nginx handed it
  over whole, i.e. processing time only: a 500-change push takes ~0.5 s, a province's XLSX
  report under a second. How long the phone needs to upload (a 5 MiB push at 100 kbit/s is
  ~7 minutes, a photo over EDGE a minute) is nginx's ``client_body_timeout``, which counts
  the silence between two reads, never the whole upload. A worker stuck for a minute is
  killed and replaced; nginx's ``proxy_read_timeout`` (90 s) is longer so the worker's
  timeout, not nginx, decides.
- **graceful_timeout 30 s**: on restart a worker finishes its request (a push commits or
  rolls back whole; the phone re-sends either way and gets ``duplicate``).
- **max_requests 2000 (+ jitter)**: workers are recycled now and then, so a slow leak in a
  library never grows for weeks; the jitter keeps them from restarting together.
- **bind 127.0.0.1:8000**: only nginx on the same host reaches it. ``forwarded_allow_ips``
  lets gunicorn believe nginx's ``X-Forwarded-Proto`` (so ODK download URLs say https);
  which client address the app believes is ``TRUSTED_PROXIES``' business, not gunicorn's.
"""

import multiprocessing
import os

bind = os.environ.get("FIELDSYNC_BIND", "127.0.0.1:8000")
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
timeout = 60
graceful_timeout = 30
max_requests = 2000
max_requests_jitter = 200
forwarded_allow_ips = "127.0.0.1,::1"
accesslog = "-"
errorlog = "-"
loglevel = "info"
