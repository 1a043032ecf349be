"""The sample municipality (городской округ Заречинск) and its generated demo stream."""

from __future__ import annotations

from pathlib import Path

#: The sample municipality profile shipped with the demo.
DEMO_PROFILE_PATH: Path = Path(__file__).with_name("profile.yaml")
