"""gunicorn settings for fault tests: a worker stops just before committing a push.

The first ``POST /api/v1/sync/push`` to reach ``COMMIT`` - after the engine applied the whole
batch and flushed it - writes its worker's pid to ``$FIELDSYNC_PAUSE_FILE`` and sleeps, so the
test can SIGKILL that worker in the middle of a batch. Later pushes (the marker exists) run
normally. Loaded only by tests (``gunicorn -c tests/gunicorn_pause.py``).
"""

import os
import time


def post_worker_init(worker):
    from flask import has_request_context, request
    from sqlalchemy.orm import Session

    marker = os.environ["FIELDSYNC_PAUSE_FILE"]
    commit = Session.commit

    def commit_after_a_pause(self):
        if has_request_context() and request.path == "/api/v1/sync/push" and not os.path.exists(marker):
            with open(marker + ".tmp", "w") as out:
                out.write(str(os.getpid()))
            os.replace(marker + ".tmp", marker)
            time.sleep(120)
        return commit(self)

    Session.commit = commit_after_a_pause
