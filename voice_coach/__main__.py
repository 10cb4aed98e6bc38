"""``python -m voice_coach``: the same CLI as the ``voice-coach`` command."""

from voice_coach.cli import entry_point

entry_point()
