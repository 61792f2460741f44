"""Local WhatsApp Cloud API (Graph API) emulator, standard library only.

`python -m emulator` serves it over HTTP; `emulator.harness.start_emulator()` runs one for tests.
See emulator/README.md for the command line, the control API and the assumed behaviours.
"""

from .harness import Emulator, start_emulator

__all__ = ["Emulator", "start_emulator"]
