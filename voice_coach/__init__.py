"""voice-coach: exercise protocols spoken as timed audio sessions."""

__version__ = "0.1.0"
