"""Files shipped inside the package (protocols, count words, tones), read by name.

Read through the package's own loader (``pkgutil.get_data``), which works for a zipped
install as well as for files on disk. ``importlib.resources.files`` would do the same,
but its first call imports ``zipfile`` and its readers on every start, for reading two
small files. Listing what is shipped, which only
``voice-coach protocols`` and error hints need, still goes through it.
"""

from __future__ import annotations

import pkgutil
import re

# Every shipped name is lower case: on a file system that ignores case, "Languages.toml"
# must not reach languages.toml, nor a user's "My.toml" some shipped file.
_PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def read_package_file(package: str, name: str) -> bytes | None:
    """The bytes of ``name`` in ``package``, or ``None`` when it is not shipped.

    ``name`` must be a plain, lower-case file name: anything with a path in it is not
    shipped, so a user's text can never reach outside the package.
    """
    if not _PLAIN_NAME.fullmatch(name):
        return None
    try:
        return pkgutil.get_data(package, name)
    except OSError:  # a zipped install reports a missing file as a bare OSError
        return None
