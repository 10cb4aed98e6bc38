"""Speech: text in, trimmed clips out, through one of several engines.

``engine`` is the small interface every engine meets (and the settings, checks and
clip shaping they share); each engine is one module beside it (``espeak``: espeak-ng
through pyttsx3, and SAPI5 or NSSpeech elsewhere). ``phrase_cache`` keeps what any
engine said on disk, so a warm start loads no engine; ``voices`` is the pure choice
among the installed voices.
"""
