"""What is read and written as files: protocols in (``loader``), sessions out.

``export`` writes audio files and ``subtitles`` their timed text; ``tags``, ``cover`` and
``chapters`` make an export a phone shows well, ``album`` a folder of them with a
playlist and feed. ``durable`` and ``leftovers`` are how a file is written whole or not
at all; ``package_data`` reads what ships inside the package.
"""
