"""The pure core: a protocol, its timeline of cues, and the samples rendered from them.

No I/O and no clock here: everything is a value in and a value out, so it is fast to test
and one render serves live playback and export alike."""
