"""The README and docs/*.md as the tests read them: their text, sections and code blocks.

`python -m tests.documentation` rewrites the settings table in docs/settings.md from the
declaration (SETTINGS in webapp/config.py); tests/test_config.py checks that it is current.
"""

import re
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
README_PATH = PROJECT_DIR / "README.md"
SETTINGS_PATH = PROJECT_DIR / "docs" / "settings.md"
DOC_PATHS = (README_PATH, *sorted((PROJECT_DIR / "docs").glob("*.md")))

README = README_PATH.read_text()
# Every page a newcomer reads, README first: examples and steps may live in any of them.
DOCS = "\n".join(path.read_text() for path in DOC_PATHS)


def code_blocks(language: str, text: str = DOCS) -> list[str]:
    """The fenced blocks of one language (`python`, `sh`), in order, without their fences."""
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def headings(text: str) -> list[tuple[int, int, str]]:
    """(line number, level, title) of each Markdown heading, code blocks skipped."""
    found, fenced = [], False
    for number, line in enumerate(text.splitlines()):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"(#+) (.*)", line)):
            found.append((number, len(match.group(1)), match.group(2).strip()))
    return found


def section(title: str, text: str = DOCS) -> str:
    """The text under the heading `title` (any level), up to the next heading as high or higher."""
    lines, found = text.splitlines(keepends=True), headings(text)
    starts = [(number, level) for number, level, name in found if name == title]
    assert len(starts) == 1, f"{len(starts)} headings {title!r} in the README and docs/"
    (start, level), end = starts[0], len(lines)
    for number, other, _ in found:
        if number > start and other <= level:
            end = number
            break
    return "".join(lines[start + 1 : end])


def settings_table_in_docs() -> str:
    """The settings table of docs/settings.md, its marker comments included."""
    from webapp.config import SETTINGS_TABLE_END, SETTINGS_TABLE_START

    text = SETTINGS_PATH.read_text()
    start, end = text.index(SETTINGS_TABLE_START), text.index(SETTINGS_TABLE_END)
    return text[start : end + len(SETTINGS_TABLE_END)]


def write_settings_table() -> None:
    """Replace the table in docs/settings.md by the one settings_table() builds now."""
    from webapp.config import settings_table

    text = SETTINGS_PATH.read_text()
    SETTINGS_PATH.write_text(text.replace(settings_table_in_docs(), settings_table()))


if __name__ == "__main__":
    write_settings_table()
    print(f"wrote the settings table of {SETTINGS_PATH.relative_to(PROJECT_DIR)}", file=sys.stderr)
