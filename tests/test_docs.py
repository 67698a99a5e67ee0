"""The docs stay true: links resolve, the `make` targets they name exist, every setting of
`.env.example` is described, and the README stays within its line budget.

The checkers are small functions; the first tests run them on the project's docs, the rest on
made-up text, so each check is shown to fail on what it exists to catch.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "k8s" / "README.md"]
README_LINE_BUDGET = 300

# `make` targets the docs may name before the Makefile has them (each with its reason).
# Empty: every target the docs name must exist.
ALLOWED_MISSING_TARGETS: frozenset[str] = frozenset()

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]+`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_MAKE = re.compile(r"(?:^|[\s;(&|])make ([a-z][a-z0-9-]*)")
_TARGET = re.compile(r"^([a-z][a-z0-9-]*)[ \t]*:(?!=)", re.MULTILINE)
_SETTING = re.compile(r"^#?[ \t]*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def _prose(text: str) -> str:
    """The text without its fenced code blocks and code spans (links there are not links)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _code(text: str) -> list[str]:
    """The fenced code blocks and code spans of the text, where commands are written."""
    blocks = [match.group(0) for match in _FENCE.finditer(text)]
    return blocks + [span.strip("`") for span in _CODE_SPAN.findall(_FENCE.sub("", text))]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor in a Markdown text (a repeated heading's get -1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path) -> list[str]:
    """The relative links (and #anchors) of a Markdown file that point at nothing."""
    broken = []
    for target in _LINK.findall(_prose(path.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        missing_anchor = (
            linked.exists()
            and linked.suffix == ".md"
            and bool(anchor)
            and anchor not in anchors(linked.read_text())
        )
        if not linked.exists() or missing_anchor:
            broken.append(target)
    return broken


def makefile_targets(makefile: str) -> set[str]:
    """The targets a Makefile defines."""
    return set(_TARGET.findall(makefile))


def named_targets(text: str) -> set[str]:
    """The `make <target>` commands written in a Markdown text's code."""
    return {target for code in _code(text) for target in _MAKE.findall(code)}


def settings(env_example: str) -> set[str]:
    """The variables `.env.example` sets (its commented-out ones included)."""
    return set(_SETTING.findall(env_example))


def undescribed(variables: set[str], docs: str) -> set[str]:
    """The variables the docs never name (`PORT` inside `AUTH_PORT` does not count)."""
    return {
        name for name in variables if not re.search(rf"(?<![A-Z0-9_]){name}(?![A-Z0-9_])", docs)
    }


def within_budget(text: str, budget: int = README_LINE_BUDGET) -> bool:
    """Whether a text has at most `budget` lines."""
    return len(text.splitlines()) <= budget


def test_every_relative_link_and_anchor_resolves() -> None:
    broken = {path.relative_to(ROOT).as_posix(): broken_links(path) for path in DOCS}

    assert {path: links for path, links in broken.items() if links} == {}


def test_every_make_target_the_docs_name_exists() -> None:
    defined = makefile_targets((ROOT / "Makefile").read_text())
    named = set().union(*(named_targets(path.read_text()) for path in DOCS))

    assert named - defined - ALLOWED_MISSING_TARGETS == set()


def test_every_setting_of_the_env_example_is_described() -> None:
    docs = "\n".join(path.read_text() for path in DOCS)

    assert undescribed(settings((ROOT / ".env.example").read_text()), docs) == set()


def test_the_readme_stays_within_its_line_budget() -> None:
    assert within_budget(README.read_text())


def test_a_link_to_a_missing_file_or_heading_is_broken(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## Known limits\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## The `tz` parameter\n\n"
        "[ok](other.md) [ok](other.md#known-limits) [ok](#the-tz-parameter) "
        "[web](https://example.com/x) `[code](missing.md)`\n"
        "[gone](missing.md) [no heading](other.md#limits) [no heading here](#nothing)\n"
        "```\n[in a block](missing-too.md)\n```\n"
    )

    assert broken_links(page) == ["missing.md", "other.md#limits", "#nothing"]


def test_a_repeated_heading_gets_a_numbered_anchor() -> None:
    assert anchors("## Upgrades\n\n## Upgrades\n") == {"upgrades", "upgrades-1"}


def test_a_make_target_missing_from_the_makefile_is_found() -> None:
    makefile = "run: migrate ## Start\n\t@echo\nmigrate: install\nPORT := 1\nrun: export X := 1\n"
    text = "Run `make run`, `make seed`, then\n```bash\nmake migrate\nX=1 make deploy  # new\n```\n"

    assert makefile_targets(makefile) == {"run", "migrate"}
    assert named_targets(text) == {"run", "seed", "migrate", "deploy"}
    assert named_targets(text) - makefile_targets(makefile) == {"seed", "deploy"}
    assert named_targets("To make a key, make sure of it.") == set()


def test_a_setting_the_docs_never_name_is_found() -> None:
    example = "# --- all ---\nLOG_LEVEL=INFO   # level\nMETRICS_PORT=9464\n# OTEL_SERVICE_NAME=\n"
    docs = "| `LOG_LEVEL` | INFO |\n| `AUTH_METRICS_PORT` | 9101 |\n"

    assert settings(example) == {"LOG_LEVEL", "METRICS_PORT", "OTEL_SERVICE_NAME"}
    assert undescribed(settings(example), docs) == {"METRICS_PORT", "OTEL_SERVICE_NAME"}


def test_a_readme_over_its_budget_is_found() -> None:
    assert within_budget("line\n" * 300)
    assert not within_budget("line\n" * 301)
