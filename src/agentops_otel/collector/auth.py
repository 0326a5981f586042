"""API keys -> project ids. Keys are only ever kept as SHA-256 hashes.

Registered keys come from a keys file and/or an environment variable, one entry per line (file)
or comma-separated (variable), each ``project_id:key`` or ``project_id:sha256:<hex digest>``
(a bare ``key`` gets a project id derived from its hash). With no key registered (allowed on
loopback only), every distinct key is its own project, named after its hash.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

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


def key_hint(key: str) -> str:
    """Enough of a key for its owner to recognise it, never enough to use it: ``sk-p…9x``."""
    return f"{len(key)} characters" if len(key) < 12 else f"{key[:4]}…{key[-2:]}"


def masked_key(key: str) -> str:
    """A key in a log line: its hint and a sha256 prefix that matches a keys file's hashed entry."""
    return f"{key_hint(key)}, sha256 {key_hash(key)[:8]}"


class RefusedKeyLog:
    """One warning per refused key per ``interval`` seconds, so an operator sees why an app's spans do
    not arrive without an app retrying every second flooding the log. Keys are masked; at most
    ``max_keys`` are remembered (the oldest forgotten), so a flood of made-up keys holds no memory."""

    def __init__(
        self, interval: float = 60.0, max_keys: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._clock = clock
        self._last: OrderedDict[str, float] = OrderedDict()  # key hash -> when it was last logged
        self._lock = threading.Lock()

    def refused(self, key: str | None) -> None:
        digest = key_hash(key) if key else ""
        now = self._clock()
        with self._lock:
            last = self._last.get(digest)
            if last is not None and now - last < self.interval:
                return
            self._last[digest] = now
            self._last.move_to_end(digest)
            while len(self._last) > self.max_keys:
                self._last.popitem(last=False)
        quiet = f"(the next {self.interval:g} s of refusals of this key are not logged)"
        if not key:
            logger.warning(
                "refused a request without an API key: send X-Agentops-Api-Key or Authorization: Bearer %s", quiet
            )
        else:
            logger.warning(
                "refused a request with an unknown API key (%s): register it in the keys file or"
                " AGENTOPS_COLLECTOR_KEYS, or check the key the app sends (AGENTOPS_API_KEY) %s",
                masked_key(key),
                quiet,
            )
