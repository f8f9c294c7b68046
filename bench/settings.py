"""Settings for benchmark servers only: the production settings with bench.urls as the URL root.

    DJANGO_SETTINGS_MODULE=bench.settings gunicorn -c supermarket/gunicorn.conf.py supermarket.wsgi

Same middleware, same gunicorn configuration, plus the baselines the benchmarks compare against.
"""

from supermarket.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
