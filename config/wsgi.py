from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _warm() -> None:
    """Work a web process would otherwise do on its first request and make every request
    behind it wait: /methodology/'s figures (~0.5 s: the estimator against every recorded
    llama.cpp run and measured speed) depend only on the code and its data files."""
    from catalog.methodology import content

    content()


_warm()
