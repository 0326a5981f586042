"""API keys -> project ids, and the projects each key may read. Keys are only ever kept as SHA-256 hashes.

Registered keys come from a keys file and/or an environment variable, one entry per line (file)
or comma-separated (variable), each ``project_id:key`` or ``project_id:sha256:<hex digest>``
(a bare ``key`` gets a project id derived from its hash). With no key registered (allowed on
loopback only), every distinct key is its own project, named after its hash.

An entry may end with ``parent=<key>`` or ``parent=sha256:<hex digest>``: that parent key may then
read the entry's project (REST and dashboard) besides its own, if it has one. A parent key needs no
entry of its own; without one it reads its child projects and sends nothing. Only the operator's
entries grant read access: the ``X-Agentops-Parent-Key`` header an app sends with its spans grants
nothing (anyone with a project key could otherwise push sessions into a parent's view, or learn
whether a guessed string is somebody's parent key). One level: a parent's parent reads nothing of it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

KEY_HEADER = "x-agentops-api-key"
PARENT_KEY_HEADER = "x-agentops-parent-key"  # sent by the SDK (config.PARENT_KEY_HEADER); grants nothing
PARENT_OPTION = "parent="


class KeysFileError(ValueError):
    """A malformed keys entry."""


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def derived_project_id(digest: str) -> str:
    return f"project-{digest[:16]}"


@dataclass
class KeyEntries:
    """What keys entries register: ``projects`` {key sha256: project id} and ``parents`` {key sha256:
    sha256 of its parent key}."""

    projects: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)

    def update(self, other: KeyEntries) -> None:
        self.projects.update(other.projects)
        for digest in other.projects:  # a later entry of the same key says all about it
            self.parents.pop(digest, None)
        self.parents.update(other.parents)


def _digest(secret: str, what: str) -> str:
    if secret.startswith("sha256:"):
        digest = secret.removeprefix("sha256:").lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise KeysFileError(f"{what}: sha256 digest must be 64 hex characters")
        return digest
    if not secret:
        raise KeysFileError(f"{what}: no key")
    return key_hash(secret)


def parse_entries(entries: Iterable[str]) -> KeyEntries:
    """The keys and parent keys of keys entries (blank lines and ``#`` comments skipped)."""
    parsed = KeyEntries()
    for raw in entries:
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        parent = None
        words = entry.rsplit(maxsplit=1)
        if len(words) == 2 and words[1].startswith(PARENT_OPTION):
            entry, parent = words[0], words[1].removeprefix(PARENT_OPTION)
        project, sep, secret = entry.partition(":")
        if not sep:
            project, secret = "", entry
        project, secret = project.strip(), secret.strip()
        digest = _digest(secret, f"keys entry for project {project!r}" if project else "keys entry")
        parsed.projects[digest] = project or derived_project_id(digest)
        if parent is not None:
            what = f"keys entry for project {parsed.projects[digest]!r}"
            parent_digest = _digest(parent, f"parent of the {what}")
            if parent_digest == digest:
                raise KeysFileError(f"{what}: a key cannot be its own parent")
            parsed.parents[digest] = parent_digest
    return parsed


def load_keys(keys_file: str | Path | None, keys_env: str | None) -> KeyEntries:
    registered = KeyEntries()
    if keys_file:
        registered.update(parse_entries(Path(keys_file).read_text().splitlines()))
    if keys_env:
        registered.update(parse_entries(keys_env.split(",")))
    return registered


class KeyRing:
    """Resolves the API key of a request to its project id (None: refuse with 401), and to the
    projects it may read (its own, then those of the keys naming it as their parent)."""

    def __init__(self, registered: KeyEntries) -> None:
        self._registered = dict(registered.projects)
        self._parents = dict(registered.parents)
        children: dict[str, set[str]] = {}
        for child, parent in registered.parents.items():
            children.setdefault(parent, set()).add(self._registered[child])
        self._children = {parent: tuple(sorted(projects)) for parent, projects in children.items()}

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

    def scope_for(self, key: str | None) -> tuple[str, ...]:
        """The projects ``key`` may read, its own first (store.base.ProjectScope); empty: refuse with 401."""
        own = self.project_for(key)
        children = self._children.get(key_hash(key), ()) if key else ()
        if own is None:
            return children
        return (own, *(project for project in children if project != own))

    def read_only(self, key: str | None) -> bool:
        """A parent key with no project of its own: it reads its child projects, it sends nothing."""
        return bool(key) and key_hash(key) in self._children and self.project_for(key) is None

    def parent_granted(self, key: str, parent_key: str) -> bool:
        """Whether the keys entries name ``parent_key`` as the parent of ``key``."""
        return self._parents.get(key_hash(key)) == key_hash(parent_key)


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


class KeyLogLimit:
    """Whether to log about a key now: once per key per ``interval`` seconds, so an app retrying every
    second does not flood the log. At most ``max_keys`` are remembered (the oldest forgotten), so a
    flood of made-up keys holds no memory."""

    def __init__(
        self, interval: float = 60.0, max_keys: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._clock = clock
        self._last: OrderedDict[str, float] = OrderedDict()  # key hash -> when it was last logged
        self._lock = threading.Lock()

    def due(self, key: str | None) -> bool:
        digest = key_hash(key) if key else ""
        now = self._clock()
        with self._lock:
            last = self._last.get(digest)
            if last is not None and now - last < self.interval:
                return False
            self._last[digest] = now
            self._last.move_to_end(digest)
            while len(self._last) > self.max_keys:
                self._last.popitem(last=False)
        return True


class RefusedKeyLog(KeyLogLimit):
    """One warning per refused key per ``interval`` seconds, so an operator sees why an app's spans do
    not arrive. Keys are masked."""

    def refused(self, key: str | None, read_only: bool = False) -> None:
        if not self.due(key):
            return
        quiet = f"(the next {self.interval:g} s of refusals of this key are not logged)"
        if not key:
            logger.warning(
                "refused a request without an API key: send X-Agentops-Api-Key or Authorization: Bearer %s", quiet
            )
        elif read_only:
            logger.warning(
                "refused spans sent with a parent key (%s): a parent key only reads its child projects;"
                " send spans with a project key (AGENTOPS_API_KEY) and the parent key as AGENTOPS_PARENT_KEY %s",
                masked_key(key),
                quiet,
            )
        else:
            logger.warning(
                "refused a request with an unknown API key (%s): register it in the keys file or"
                " AGENTOPS_COLLECTOR_KEYS, or check the key the app sends (AGENTOPS_API_KEY) %s",
                masked_key(key),
                quiet,
            )


class ParentHeaderLog(KeyLogLimit):
    """One warning per project key per ``interval`` seconds whose spans came with an
    ``X-Agentops-Parent-Key`` the keys entries do not name as its parent (the header grants nothing)."""

    def ungranted(self, project_id: str, key: str, parent_key: str) -> None:
        if not self.due(key):
            return
        logger.warning(
            "spans of project %r came with the parent key %s, which the keys file does not name as the"
            " parent of their key (%s): it gives that parent key no read access. To give it, end the"
            " project key's entry with parent=sha256:<sha256 of the parent key> (the next %g s of these"
            " for this key are not logged)",
            project_id,
            masked_key(parent_key),
            masked_key(key),
            self.interval,
        )
