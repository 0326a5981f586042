"""API keys -> project ids. Keys are only ever kept as SHA-256 hashes.

Registered keys come from a keys file and/or an environment variable, one entry per line (file)
or comma-separated (variable), each ``project_id:key`` or ``project_id:sha256:<hex digest>``
(a bare ``key`` gets a project id derived from its hash). With no key registered (allowed on
loopback only), every distinct key is its own project, named after its hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

KEY_HEADER = "x-agentops-api-key"


class KeysFileError(ValueError):
    """A malformed keys entry."""


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def derived_project_id(digest: str) -> str:
    return f"project-{digest[:16]}"


def parse_entries(entries: Iterable[str]) -> dict[str, str]:
    """``{sha256 hex: project id}`` from keys entries (blank lines and ``#`` comments skipped)."""
    registered: dict[str, str] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        project, sep, secret = entry.partition(":")
        if not sep:
            project, secret = "", entry
        project, secret = project.strip(), secret.strip()
        if secret.startswith("sha256:"):
            digest = secret.removeprefix("sha256:").lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise KeysFileError(f"keys entry for project {project!r}: sha256 digest must be 64 hex characters")
        elif secret:
            digest = key_hash(secret)
        else:
            raise KeysFileError(f"keys entry {entry[:20]!r}...: no key")
        registered[digest] = project or derived_project_id(digest)
    return registered


def load_keys(keys_file: str | Path | None, keys_env: str | None) -> dict[str, str]:
    registered: dict[str, str] = {}
    if keys_file:
        registered.update(parse_entries(Path(keys_file).read_text().splitlines()))
    if keys_env:
        registered.update(parse_entries(keys_env.split(",")))
    return registered


class KeyRing:
    """Resolves the API key of a request to its project id (None: refuse with 401)."""

    def __init__(self, registered: Mapping[str, str]) -> None:
        self._registered = dict(registered)

    @property
    def open(self) -> bool:
        """No key registered: every key is its own project (loopback use only)."""
        return not self._registered

    def project_for(self, key: str | None) -> str | None:
        if not key:
            return None
        digest = key_hash(key)
        if self.open:
            return derived_project_id(digest)
        return self._registered.get(digest)


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The API key of a request: ``X-Agentops-Api-Key``, else ``Authorization: Bearer``."""
    key = headers.get(KEY_HEADER)
    if key:
        return key.strip()
    auth = headers.get("authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None
