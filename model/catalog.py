"""The platform image catalog of one sku (R17, D14).

The catalog answers which versions of the scale set's sku exist, which one
``latest`` resolves to, and whether a version was published as broken (an
image on which the application never reports healthy).
"""

from __future__ import annotations

import functools

import attrs


@functools.lru_cache(maxsize=4096)
def version_key(version: str) -> tuple[int, ...]:
    """R17: versions compare as dotted numbers, part by part (a pure function
    of the string, remembered: the model compares the same few versions often)."""
    return tuple(int(part) for part in version.split("."))


@attrs.define(eq=False, slots=False)  # copied by `check`: a dict pickles in C
class Catalog:
    """The published versions of one sku, and which are broken (D14)."""

    versions: list[str] = attrs.field(factory=list)
    broken: set[str] = attrs.field(factory=set)
    _latest: str | None = attrs.field(default=None, init=False)
    _latest_key: tuple[int, ...] = attrs.field(default=(), init=False)
    #: T17 (section 9): the latest available and the latest eligible version,
    #: never an excluded one (T16); without the switch both are ``latest``
    available: str | None = attrs.field(default=None, init=False)
    eligible: str | None = attrs.field(default=None, init=False)
    excluded: set[str] = attrs.field(factory=set, init=False)

    def __attrs_post_init__(self) -> None:
        initial = sorted(self.versions, key=version_key)
        self.versions = []
        for version in initial:
            self._add(version)
        self.available = self.eligible = self._latest

    @property
    def latest(self) -> str:
        """R17: the version that ``latest`` resolves to."""
        assert self._latest is not None, "an empty catalog has no latest version"
        return self._latest

    def is_newer(self, version: str) -> bool:
        """D14: a publication must be newer than the sku's latest version."""
        return self._latest is None or version_key(version) > self._latest_key

    def publish(
        self,
        version: str,
        app_healthy: bool = True,
        *,
        available: bool = True,
        eligible: bool = True,
        excluded: bool = False,
    ) -> None:
        """D14: add a newer version; a broken one never reports healthy.
        Section 9 (T16, T17): it may be available or eligible only later
        (``make_available`` / ``make_eligible``), or excluded from latest."""
        if not self.is_newer(version):
            raise ValueError(f"version {version} is not newer than the latest {self._latest}")
        self._add(version)
        if not app_healthy:
            self.broken.add(version)
        if excluded:
            self.excluded.add(version)
        if available:
            self.make_available(version)
        if eligible:
            self.make_eligible(version)

    def make_available(self, version: str) -> None:
        """T17: ``version`` is available now (User runs, new instances)."""
        if version not in self.excluded and (
            self.available is None or version_key(version) > version_key(self.available)
        ):
            self.available = version

    def make_eligible(self, version: str) -> None:
        """T17: ``version`` is eligible in the scale set's region now (Platform runs)."""
        if version not in self.excluded and (
            self.eligible is None or version_key(version) > version_key(self.eligible)
        ):
            self.eligible = version

    def is_broken(self, version: str) -> bool:
        return version in self.broken

    def _add(self, version: str) -> None:
        self.versions.append(version)
        key = version_key(version)
        if self._latest is None or key > self._latest_key:
            self._latest, self._latest_key = version, key
