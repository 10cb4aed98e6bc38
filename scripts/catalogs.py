"""The screens' translation catalogs: extract the template, update and compile the ``.po``.

    python scripts/catalogs.py extract   the template (voice_coach/locale/voice_coach.pot)
                                         from the code, and each .po merged with it
    python scripts/catalogs.py init LANG a new language's .po from the template, with its
                                         plural rule (then translate it: docs/translating.md)
    python scripts/catalogs.py compile   each .po to its .mo (beside it; not committed)
    python scripts/catalogs.py check     fail if a .po misses, leaves empty or marks fuzzy
                                         a message of the template, or does not parse

Babel does the work (``pybabel`` would too; this keeps the options in one place).
``BuildPy`` compiles the catalogs whenever setuptools builds the package, including
``pip install -e .`` (``scripts/setup``): setuptools has no step of its own for this.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "voice_coach" / "locale"
TEMPLATE = LOCALE / "voice_coach.pot"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
FIELD = re.compile(r"\{([^{}]*)\}")


def po_files(locale: Path = LOCALE) -> list[Path]:
    return sorted(locale.glob("*/LC_MESSAGES/voice_coach.po"))


def read(path: Path):
    """A ``.po`` or ``.pot``, refusing one that does not parse (the build fails, not a user)."""
    from babel.messages.pofile import read_po

    with path.open("rb") as file:
        return read_po(file, abort_invalid=True)


def compile_all(locale: Path = LOCALE) -> list[Path]:
    """Compile every ``.po`` under ``locale`` to the ``.mo`` beside it."""
    from babel.messages.mofile import write_mo

    made = []
    for po in po_files(locale):
        catalog = read(po)
        errors = [(m.id, str(e)) for m, errs in catalog.check() for e in errs]
        errors += [(m.id, "fields differ from the message's") for m in catalog if wrong_fields(m)]
        if errors:
            raise SystemExit(f"{po}: {errors[0][1]} in {errors[0][0]!r}")
        mo = po.with_suffix(".mo")
        with mo.open("wb") as file:
            write_mo(file, catalog)
        made.append(mo)
    return made


def fields(text: str) -> list[str]:
    """The ``{name}`` fields of a message, as ``str.format`` sees them."""
    return sorted(FIELD.findall(text.replace("{{", "").replace("}}", "")))


def wrong_fields(message) -> bool:
    """A translation whose fields are not those of its message: shown, it would fail."""
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    wanted = [fields(each) for each in ids]
    return bool(message.id) and any(form and fields(form) not in wanted for form in forms)


def extract() -> None:
    """The template from the code, and every ``.po`` merged with it."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import write_po

    template = Catalog(project="voice-coach", msgid_bugs_address="", charset="utf-8")
    for path, line, message, comments, context in extract_from_dir(
        str(ROOT / "voice_coach"),
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
    ):
        template.add(message, None, [(path, line)], auto_comments=comments, context=context)
    with TEMPLATE.open("wb") as file:
        write_po(file, template, width=100, sort_output=True, include_lineno=False)
    for po in po_files():
        catalog = read(po)
        catalog.update(template, update_header_comment=False)
        with po.open("wb") as file:
            write_po(
                file,
                catalog,
                width=100,
                sort_output=True,
                ignore_obsolete=True,
                include_lineno=False,
            )


def init(language: str) -> Path:
    """A new ``.po`` for ``language`` from the template, with the language's plural rule."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    po = LOCALE / language / "LC_MESSAGES" / "voice_coach.po"
    if po.exists():
        raise SystemExit(f"{po} exists; extract merges new messages into it")
    catalog = Catalog(locale=language, project="voice-coach", charset="utf-8")
    for message in read(TEMPLATE):
        if message.id:
            catalog.add(message.id, None, message.locations, auto_comments=message.auto_comments)
    po.parent.mkdir(parents=True, exist_ok=True)
    with po.open("wb") as file:
        write_po(file, catalog, width=100, sort_output=True, include_lineno=False)
    return po


def problems(template_path: Path = TEMPLATE, locale: Path = LOCALE) -> list[str]:
    """What keeps a catalog from being complete: each as one line."""
    template = read(template_path)
    found = []
    for po in po_files(locale):
        catalog = read(po)
        for message in template:
            if not message.id:
                continue
            have = catalog.get(message.id)
            strings = have.string if have is not None else None
            forms = strings if isinstance(strings, tuple | list) else (strings,)
            if have is None or not all(forms):
                found.append(f"{po.parent.parent.name}: no translation of {message.id!r}")
            elif have.fuzzy:
                found.append(f"{po.parent.parent.name}: fuzzy {message.id!r}")
    return found


class BuildPy(build_py):
    """setuptools' ``build_py``, compiling the catalogs first (into the source tree,
    where an editable install reads them and a wheel's build copies them from)."""

    def run(self) -> None:
        compile_all()
        super().run()


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "extract":
        extract()
    elif command == "init" and len(argv) == 2:
        print(init(argv[1]).relative_to(ROOT))
    elif command == "compile":
        for mo in compile_all():
            print(mo.relative_to(ROOT))
    elif command == "check":
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
