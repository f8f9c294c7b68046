"""Registers kept per web worker: every API sale names one (or the online register), and they rarely change.

Saving or deleting a register or a location drops every worker's entries when the change commits
(supermarket/localcache.py), so a register taken out of use stops selling at once.
"""

from checkout.models import ONLINE_REGISTER_CODE, Register
from supermarket.localcache import GenerationCache

registers = GenerationCache("registers", maxsize=1_000)


def _load(code: str) -> Register | None:
    if code == ONLINE_REGISTER_CODE:
        return Register.online_register()
    return Register.objects.select_related("location").filter(code=code).first()


def register_cached(code: str) -> Register | None:
    """The register with this code (in use or not), with its location; None if there is none."""
    return registers.get(code, lambda: _load(code))


def registers_changed(sender=None, **kwargs) -> None:
    """Receiver for register and location saves and deletes (connected in checkout's AppConfig.ready)."""
    registers.changed()
