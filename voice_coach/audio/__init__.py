"""The samples and the device: tones, loudness, where a word is heard, and playback.

``tones`` makes and loads the shipped tones; ``loudness`` measures a clip as it is made
and computes a session's gains from those figures; ``onset`` finds where a word is heard;
``playback`` is the one module that imports an audio device library.
"""
