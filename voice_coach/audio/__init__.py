"""The samples and the device: tones, loudness, where a word is heard, and playback.

``tones`` makes and loads the shipped tones; ``loudness`` measures a clip as it is made
and computes a session's gains from those figures; ``onset`` finds where a word is heard;
``playback`` plays a session through one of two back-ends (``sounddevice_output``,
``simpleaudio_output``, the only modules that import an audio device library), both fed
by the pure ``feed``.
"""
