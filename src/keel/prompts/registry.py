"""``PromptRegistry``: every prompt version and label this process serves, in memory, kept fresh.

Versions come from two sources: the YAML directory (``prompts.dir``, read at start and on reload) and
the database (``keel prompts create``, the admin API). Labels live in the database only. A call that
names a prompt reads the registry's memory, never the database: a poller started at the first such
call reads the store's revision number every ``prompts.refresh_interval`` seconds (one indexed row)
and the whole state only when the number moved — so a label moved anywhere is served here within
that interval plus one read. A call without a prompt never touches any of this.

While the database does not answer, the state last read is served for ``prompts.max_stale`` seconds
and each answer says how old it is (``stale``); after that, calls that need it are refused
(``PromptStoreUnavailableError``) rather than served from a copy that may hold a removed label.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._freshness import READ_TIMEOUT_S, Freshness
from ..errors import ConfigError, PromptNotFoundError, PromptStoreUnavailableError
from ..telemetry.logs import get_logger
from .split import Split, bucket
from .store import PromptSnapshot, PromptStore, open_prompt_store
from .yaml_source import load_directory

if TYPE_CHECKING:
    from ..config import Config, PromptsConfig
    from .version import PromptVersion

__all__ = ["PromptRegistry", "Selected"]

log = get_logger("keel.prompts")

Versions = dict[str, dict[int, "PromptVersion"]]


@dataclass(frozen=True, slots=True)
class Selected:
    """The version a call gets; ``label`` as asked (None for an explicit version); ``stale``: seconds
    since the labels were last read, when the database has not answered since."""

    version: PromptVersion
    label: str | None
    stale: float | None = None
    variant: str | None = None
    """For a split label: the version picked for this caller (``v4``), as the ledger records it."""


class PromptRegistry:
    """The prompts of one gateway: YAML versions per config, database state per process."""

    def __init__(self, config: Config, *, store: PromptStore | None = None) -> None:
        """Raises:
        ConfigError: a YAML file that does not load, or a version clashing with the database's.
        """
        self.settings: PromptsConfig = config.prompts
        self.yaml: Versions = self.load(config)
        self._database = config.database
        self._store = store
        self._snapshot: PromptSnapshot | None = None
        self._fresh = Freshness("prompt store", log, "labels as last read are served for prompts.max_stale")
        self._first: asyncio.Lock | None = None
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.ledger: Any = None
        """The ledger store the guards read (``prompt_calls``); set by the gateway."""
        self.notify: Any = None
        """Posts an alert event to the webhook; set by the gateway."""
        self._judged_at = 0.0

    @property
    def store(self) -> PromptStore:
        if self._store is None:
            self._store = open_prompt_store(self._database)
        return self._store

    # Loading: at start and on reload (sync, so a reload is refused before anything changes).
    def load(self, config: Config) -> Versions:
        """The YAML versions ``config`` names, checked against the database's as last read.

        Raises:
            ConfigError: as ``__init__``.
        """
        directory = config.prompts.dir
        found = load_directory(directory) if directory else {}
        snapshot = getattr(self, "_snapshot", None)
        if snapshot is not None:
            _check_clashes(found, snapshot.versions)
        return found

    def apply(self, config: Config, yaml: Versions) -> None:
        """Make a reloaded config's prompts (``load``'s result) the ones served."""
        self.settings, self.yaml = config.prompts, yaml
        if self._snapshot is None or self._poller is None:
            return  # the first call applies the files' wanted labels
        try:
            task = asyncio.get_running_loop().create_task(self._want_labels(self._snapshot))
        except RuntimeError:  # reloaded outside the event loop: the labels wait for the next reload
            return
        self._tasks.add(task)
        task.add_done_callback(self._wanted)

    def _wanted(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("prompts: a file's wanted label was not set", error=repr(task.exception()))

    # Serving.
    async def select(
        self, name: str, label: str | None = None, version: int | None = None, caller: str = ""
    ) -> Selected:
        """The version of ``name`` a call gets: ``version`` if given, else ``label`` (default
        ``prompts.default_label``; ``latest`` is the highest version). A split label picks by the
        bucket of ``caller`` (the user, else the key), so one caller always gets one version.

        Raises:
            PromptNotFoundError: no such prompt, version or label.
            PromptStoreUnavailableError: the labels are older than ``prompts.max_stale``.
        """
        snapshot = self._snapshot if self._poller is not None else await self._start()
        assert snapshot is not None
        stale = self._stale()
        versions = {**snapshot.versions.get(name, {}), **self.yaml.get(name, {})}
        if not versions:
            raise PromptNotFoundError(f"no prompt named {name!r}", param="prompt.name")
        if version is not None:
            found = versions.get(version)
            if found is None:
                have = ", ".join(str(n) for n in sorted(versions))
                raise PromptNotFoundError(
                    f"prompt {name!r} has no version {version}; it has {have}", param="prompt.version"
                )
            return Selected(found, None, stale)
        label = label or self.settings.default_label
        if label == "latest":
            return Selected(versions[max(versions)], label, stale)
        labels = snapshot.labels.get(name, {})
        target = labels.get(label)
        variant = None
        if isinstance(target, Split):
            target = target.pick(bucket(name, label, caller))
            variant = f"v{target}"
        if target is None or target not in versions:
            have = ", ".join(sorted(labels)) or "none"
            raise PromptNotFoundError(
                f"prompt {name!r} has no label {label!r} (its labels: {have}; latest is implicit); "
                f"set one with: keel prompts label {name} {label} <version>",
                param="prompt.label",
            )
        return Selected(versions[target], label, stale, variant)

    def versions(self, name: str) -> dict[int, PromptVersion]:
        """Every version of ``name`` known here, both sources."""
        snapshot = self._snapshot or PromptSnapshot()
        return {**snapshot.versions.get(name, {}), **self.yaml.get(name, {})}

    def _stale(self) -> float | None:
        settings = self.settings

        def unavailable(age: float) -> Exception:
            return PromptStoreUnavailableError(
                f"the prompts' database has not answered for {age:.0f} s (prompts.max_stale is "
                f"{settings.max_stale:g} s): labels are not served from a copy that old",
                retry_after=settings.refresh_interval,
            )

        return self._fresh.stale(settings.refresh_interval, settings.max_stale, unavailable)

    async def refresh(self) -> PromptSnapshot:
        """Read the database's state now (after a change made here, so it is served at once).

        Raises:
            ConfigError: a database version clashes with a YAML one.
        """
        snapshot = await self.store.snapshot()
        _check_clashes(self.yaml, snapshot.versions)
        self._snapshot = snapshot
        self._fresh.synced()
        return snapshot

    async def start(self) -> None:
        """Read the database now rather than at the first call (``keel serve`` does, when
        ``prompts.dir`` is set, so a version clash stops the start).

        Raises:
            ConfigError: a database version clashes with a YAML one (naming both).
            PromptStoreUnavailableError: the database cannot be read.
        """
        if self._poller is None:
            await self._start()

    async def _start(self) -> PromptSnapshot:
        """The first read, once however many calls arrive together; then the poller."""
        if self._first is None:
            self._first = asyncio.Lock()
        async with self._first:
            if self._poller is None:
                try:
                    async with asyncio.timeout(READ_TIMEOUT_S):
                        snapshot = await self.refresh()
                except ConfigError:
                    raise
                except Exception as error:
                    raise PromptStoreUnavailableError(
                        f"the prompts' database cannot be read: {type(error).__name__}",
                        retry_after=self.settings.refresh_interval,
                    ) from None
                await self._want_labels(snapshot)
                self._poller = asyncio.get_running_loop().create_task(self._poll(), name="keel-prompts")
        assert self._snapshot is not None
        return self._snapshot

    async def _want_labels(self, snapshot: PromptSnapshot) -> None:
        """Give each YAML version the label it asks for, if that label has never existed."""
        wanted = [
            v for versions in self.yaml.values() for v in versions.values()
            if v.label is not None and (v.name, v.label) not in snapshot.known_labels
        ]  # fmt: skip
        if not wanted:
            return
        from ..errors import PromptLabelConflictError

        for version in wanted:
            assert version.label is not None
            with contextlib.suppress(PromptLabelConflictError):  # another process set it first
                await self.store.move_label(
                    version.name, version.label, version.version, expected=None, by=version.source,
                    reason="first load",
                )  # fmt: skip
        await self.refresh()

    async def _poll(self) -> None:
        def current() -> int:
            assert self._snapshot is not None
            return self._snapshot.revision

        interval = lambda: self.settings.refresh_interval  # noqa: E731 (read again each round: a reload)
        # A ConfigError is the database answering with a version a file has too: the state is kept.
        await self._fresh.poll(
            interval, self.store.revision, current, self.refresh, self._guard, (ConfigError,)
        )

    async def _guard(self) -> None:
        """Judge the rollout guards (``prompts.guards``) every ``prompts.guard_interval`` seconds."""
        rules = self.settings.guards
        now = time.monotonic()
        if not rules or now - self._judged_at < self.settings.guard_interval or self._snapshot is None:
            return
        self._judged_at = now
        if getattr(self.ledger, "prompt_calls", None) is None:
            return
        from .guard import LabelGuard

        try:
            async with asyncio.timeout(READ_TIMEOUT_S * 5):
                moved = await LabelGuard(self.store, self.ledger, self.notify).check(
                    rules, self._snapshot.labels
                )
        except asyncio.CancelledError:
            raise
        except Exception as error:  # judged again next interval
            log.warning("prompt guards could not be judged", error=type(error).__name__)
            return
        if moved:
            await self.refresh()  # this process stops serving the version at once

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
            self._poller = None
        if self._store is not None:
            await self._store.close()


def _check_clashes(yaml: Versions, database: Versions) -> None:
    for name, versions in yaml.items():
        for number in sorted(versions.keys() & database.get(name, {}).keys()):
            raise ConfigError(
                f"prompt {name!r} version {number} is defined twice: in "
                f"{versions[number].source.removeprefix('yaml:')} and in the database; "
                "version numbers are unique per prompt across both — renumber the file"
            )
