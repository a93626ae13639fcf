from __future__ import annotations

import contextlib
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _warm() -> None:
    """Work a web process would otherwise do on its first request and make every request
    behind it wait: /methodology/'s figures (~0.5 s: the estimator against every recorded
    llama.cpp run and measured speed) depend only on the code and its data files; the
    estimator's per-model work behind a machine's list of what runs (~3 s for the catalog)
    depends only on the catalog. A database that is not there yet only skips the second."""
    from django.db import DatabaseError

    from catalog import runs
    from catalog.methodology import content
    from catalog.snapshot import snapshot

    content()
    # Without the database the first request after it is back pays instead.
    with contextlib.suppress(DatabaseError):
        runs.warm(snapshot()[0])


_warm()
