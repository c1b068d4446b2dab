"""Alerts on a text stream, as `trailhound replay` prints them: readable text, or JSON Lines."""

from __future__ import annotations

from typing import Literal, TextIO

from trailhound.alerts.model import Alert
from trailhound.delivery.email import render_text


class StreamSink:
    """Writes alerts to a text stream (`trailhound replay`): readable text, or JSON Lines."""

    def __init__(self, stream: TextIO, output: Literal["text", "json"] = "text") -> None:
        self._stream = stream
        self._output = output

    def write(self, alert: Alert) -> None:
        """Write one alert."""
        if self._output == "json":
            self._stream.write(alert.to_json() + "\n")
        else:
            self._stream.write(render_text(alert) + "\n\n" + "-" * 60 + "\n\n")
