"""Reading the environment, shared by settings.py and gunicorn.conf.py (which cannot import settings)."""

import os


def env(name: str, default: str = "") -> str:
    """The variable's value, or default when it is unset or empty.

    A .env copied from .env.example carries `NAME=` for every setting left at its default; docker-compose and
    most process managers pass those through as empty strings, which must mean "not set", not "set to nothing".
    """
    value = os.environ.get(name, "")
    return value if value.strip() else default
