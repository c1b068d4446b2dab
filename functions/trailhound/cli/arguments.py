"""What every command's arguments share: the rule folder used when none is named."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeAlias

DEFAULT_RULES = Path("rules")

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""The `trailhound` parser's subcommands, to which each command module adds its parser."""
