"""Fail when a string a person reads is missing from the Spanish catalog.

`make i18n-check` (part of `make lint`). In a scratch copy of the source,
run makemessages (templates and Python: django; static JS: djangojs), as a
developer would, merging into a copy of the committed catalogs. Then fail on:

- any msgid with an empty or fuzzy msgstr (a new string nobody translated,
  or one whose English changed: msgmerge marks it fuzzy);
- a catalog whose msgids differ from what makemessages finds (a string
  removed from the code but left in the catalog is harmless, but a catalog
  out of step means nobody ran makemessages);
- a compiled `.mo` that is not exactly what msgfmt makes of its `.po`.

Needs GNU gettext (msgfmt, msgmerge, xgettext); `.ci/run` installs it.
"""

import filecmp
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ["es"]
DOMAINS = ["django", "djangojs"]
# Never scanned: third-party code, build output, tests (their strings are
# not shown to anyone).
SKIP = {".venv", "var", "staticfiles", "tests", ".git", "node_modules", "__pycache__", ".pytest_cache", "test-results"}


def _copy_source(target: Path) -> None:
    def ignore(directory, names):
        return {name for name in names if name in SKIP} if Path(directory) == ROOT else {"__pycache__"} & set(names)

    shutil.copytree(ROOT, target, ignore=ignore, symlinks=True)
    (target / ".venv").symlink_to(ROOT / ".venv")


def _run(*command, cwd) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"i18n-check: {' '.join(map(str, command))} failed")
    return done.stdout


def _entries(po_text: str) -> list[str]:
    """The msgids of a .po text (with msgctxt and msgid_plural, joined), the
    header's empty msgid left out. Obsolete (#~) entries are not read."""
    entries, key, current = [], None, {}

    def close():
        if current.get("msgid"):
            entries.append(" | ".join(current[k] for k in ("msgctxt", "msgid", "msgid_plural") if k in current))

    for line in po_text.splitlines():
        match = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) (".*")$', line)
        if match:
            word = match.group(1)
            # An entry starts at its msgctxt, or at a msgid without one.
            if word == "msgctxt" or (word == "msgid" and key != "msgctxt"):
                close()
                current = {}
            key = "msgstr" if word.startswith("msgstr") else word
            current[key] = current.get(key, "") + match.group(2)[1:-1]
        elif line.startswith('"') and key:
            current[key] += line[1:-1]
    close()
    return entries


def _msgids(po: Path, cwd: Path) -> set[str]:
    return set(_entries(_run("msgcat", "--no-location", "--no-wrap", str(po), cwd=cwd)))


def main() -> int:
    missing_tools = [tool for tool in ("msgfmt", "msgmerge", "xgettext", "msgattrib") if not shutil.which(tool)]
    if missing_tools:
        print(f"i18n-check: GNU gettext is missing ({', '.join(missing_tools)}): apt-get install gettext")
        return 2
    problems = []
    with tempfile.TemporaryDirectory(prefix="i18n-check-") as scratch:
        copy = Path(scratch) / "src"
        _copy_source(copy)
        python = str(ROOT / ".venv" / "bin" / "python")
        ignores = [f"--ignore={name}" for name in sorted(SKIP)]
        for domain in DOMAINS:
            for language in LANGUAGES:
                committed = ROOT / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
                if not committed.exists():
                    problems.append(f"{committed.relative_to(ROOT)} is missing")
                    continue
            _run(python, "manage.py", "makemessages", "-d", domain, *[f"-l{lang}" for lang in LANGUAGES],
                 "--no-obsolete", *ignores, cwd=copy)  # fmt: skip
            for language in LANGUAGES:
                committed = ROOT / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
                fresh = copy / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
                if not committed.exists():
                    continue
                name = committed.relative_to(ROOT)
                untranslated = _entries(_run("msgattrib", "--untranslated", "--no-wrap", str(fresh), cwd=copy))
                fuzzy = _entries(_run("msgattrib", "--only-fuzzy", "--no-wrap", str(fresh), cwd=copy))
                for msgid in untranslated:
                    problems.append(f"{name}: not translated: {msgid}")
                for msgid in fuzzy:
                    problems.append(f"{name}: fuzzy (the English changed?): {msgid}")
                if _msgids(committed, copy) != _msgids(fresh, copy):
                    problems.append(f"{name}: out of step with the code: run makemessages (docs/i18n.md)")
                mo = committed.with_suffix(".mo")
                built = Path(scratch) / f"{language}-{domain}.mo"
                _run("msgfmt", "--check-format", "-o", str(built), str(committed), cwd=copy)
                if not mo.exists():
                    problems.append(f"{mo.relative_to(ROOT)} is missing: run compilemessages")
                elif not filecmp.cmp(mo, built, shallow=False):
                    problems.append(f"{mo.relative_to(ROOT)} is not compiled from its .po: run compilemessages")
    for problem in problems:
        print(problem)
    if problems:
        print(f"i18n-check: {len(problems)} problem(s); see docs/i18n.md")
        return 1
    print("i18n-check: every string has its Spanish, the catalogs are compiled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
