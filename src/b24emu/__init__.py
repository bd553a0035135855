"""b24emu — a protocol-faithful Bitrix24 portal emulator for tests and demos.

    from b24emu import Portal, EmuServer, RateLimit, Faults

See docs/emulator.md for what is emulated and how it differs from a real portal.
"""

from b24emu.config import CommandError, Faults, RateLimit, Stats
from b24emu.errors import ApiError
from b24emu.portal import Portal
from b24emu.server import EmuServer

__all__ = ["ApiError", "CommandError", "EmuServer", "Faults", "Portal", "RateLimit", "Stats"]
