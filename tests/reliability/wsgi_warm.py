"""supermarket.wsgi with the URLconf and the translations loaded in the gunicorn master (run with --preload).

A worker killed under load is replaced by a fork that can answer at once, instead of importing every view
module on its first request; the kill tests then measure what a kill does to requests in flight.
"""

from django.db import connections
from django.urls import get_resolver
from django.utils import translation

from supermarket.wsgi import application

get_resolver().url_patterns  # noqa: B018  (imports every view module)
translation.activate("en")
translation.deactivate()
# Importing may have queried the database: forked workers must not share that connection.
connections.close_all()

__all__ = ["application"]
