"""How a picture was made, written into it: its settings and the command that makes it again.

The CLI's output and the studio's result carry the same two PNG text chunks, so a picture from
either can be remade from the command line (tests/web/test_png_metadata.py).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from ..settings import as_flags, changed_fields
from .config import StyleConfig


def png_metadata(
    config: StyleConfig, content: str, styles: Sequence[str], output: str
) -> dict[str, str]:
    """PNG text chunks that say how a picture was made: the settings and the equivalent command."""
    changes = changed_fields(config)
    command = shlex.join(
        ["stylegram", "stylize", content, *styles, "-o", output, *as_flags(changes)]
    )
    return {
        "Software": "stylegram",
        "stylegram:settings": json.dumps(changes, sort_keys=True),
        "stylegram:command": command,
    }
