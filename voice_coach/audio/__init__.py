"""The samples and the device: loudness and, as they move here, tones and playback."""
