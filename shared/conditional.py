"""Conditional requests (RFC 9110, section 13) on resources whose ETag is their version.

A versioned resource's ETag is the strong tag `"<version>"`. `If-Match` compares strongly:
only a strong tag naming the current version matches, and a weak one (`W/"3"`) never does.
`If-None-Match` compares weakly: `W/"3"` and `"3"` both match version 3. `*` matches any
current version. A header that is not a list of entity tags is a 422 naming it.
"""

import re
from dataclasses import dataclass

from shared.errors import InvalidFieldError

# One list element: optional separators, an entity tag (RFC 9110, 8.8.3), then a comma or end.
_ELEMENT = re.compile(r'[ \t,]*(W/)?"([^"\x00-\x20\x7f]*)"[ \t]*(?:,|$)')


def version_etag(version: int) -> str:
    """The strong ETag of a resource at `version`."""
    return f'"{version}"'


@dataclass(frozen=True)
class EntityTags:
    """A parsed `If-Match` or `If-None-Match`: `*`, or a list of (weak, opaque) tags."""

    any: bool
    tags: tuple[tuple[bool, str], ...] = ()

    def strong_versions(self) -> frozenset[int] | None:
        """The versions `If-Match` accepts; `None` for `*` (any version)."""
        if self.any:
            return None
        return frozenset(int(opaque) for weak, opaque in self.tags if not weak and _is_int(opaque))

    def weak_match(self, version: int) -> bool:
        """Whether `If-None-Match` names this version (weak comparison)."""
        return self.any or any(opaque == str(version) for _, opaque in self.tags)


def _is_int(opaque: str) -> bool:
    # Strong comparison is character by character: "02" is not the tag of version 2.
    return (
        opaque.isascii() and opaque.isdigit() and len(opaque) <= 18 and str(int(opaque)) == opaque
    )


def parse_entity_tags(value: str, *, header: str) -> EntityTags:
    """Parse an `If-Match`/`If-None-Match` value; 422 naming `header` when it is malformed."""
    text = value.strip(" \t")
    if text == "*":
        return EntityTags(any=True)
    tags: list[tuple[bool, str]] = []
    position = 0
    while text[position:].strip(" \t,"):
        match = _ELEMENT.match(text, position)
        if match is None:
            raise InvalidFieldError(
                field=header,
                location="header",
                message='Expected entity tags such as "3" (quoted), or *.',
            )
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    if not tags:
        raise InvalidFieldError(field=header, location="header", message="No entity tag given.")
    return EntityTags(any=False, tags=tuple(tags))
