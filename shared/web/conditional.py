"""Conditional requests (RFC 9110, section 13) on resources whose ETag is their version.

A versioned resource's ETag is the strong tag `"<version>"`. `If-Match` compares strongly:
only a strong tag naming the current version matches, and a weak one (`W/"3"`) never does.
`If-None-Match` compares weakly: `W/"3"` and `"3"` both match version 3. `*` matches any
current version. An empty list (an empty value, or only commas) counts as no header at all. A
header that is not a list of entity tags is a 422 naming it.
"""

import re
from dataclasses import dataclass

from shared.core.errors import InvalidFieldError

# An entity tag (RFC 9110, 8.8.3; ASCII only), and a header value: `*` or a comma-separated list
# of tags (empty elements allowed, as RFC 9110, 5.6.1 says). The pattern is also the header's
# schema in the OpenAPI documents (`ENTITY_TAGS_SCHEMA`), so generated clients know it.
_TAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
ENTITY_TAGS_PATTERN = rf"^(?:[ \t]*\*[ \t]*|[ \t,]*(?:{_TAG}(?:[ \t]*,[ \t,]*{_TAG})*)?[ \t,]*)$"
ENTITY_TAGS_SCHEMA = {"pattern": ENTITY_TAGS_PATTERN}
_VALUE = re.compile(ENTITY_TAGS_PATTERN)
_TAGS = re.compile(r'(W/)?"([\x21\x23-\x7e]*)"')


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


def parse_entity_tags(value: str, *, header: str) -> EntityTags | None:
    """Parse an `If-Match`/`If-None-Match` value: `None` for an empty list, a 422 naming
    `header` when it is malformed."""
    if _VALUE.fullmatch(value) is None:
        raise InvalidFieldError(
            field=header, location="header", message='Expected entity tags such as "3", or *.'
        )
    if value.strip(" \t") == "*":
        return EntityTags(any=True)
    tags = tuple((bool(weak), opaque) for weak, opaque in _TAGS.findall(value))
    return EntityTags(any=False, tags=tags) if tags else None
