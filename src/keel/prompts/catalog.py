"""``Catalog``: the prompts as an operator manages them — both sources side by side, and the changes
``keel prompts`` and the admin API make: a new version, a label moved (compare-and-set), a rollback.

Every change goes through the store's transaction (``PromptStore``); the catalog only checks it
first against everything known (a version number free in both sources, a label pointed at a
version that exists) so the refusal names the problem.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import PromptError, PromptNotFoundError
from .split import Split, allocate
from .store import LabelMove, PromptSnapshot, PromptStore, Target, public
from .version import PromptVersion, check_label

__all__ = ["Catalog", "diff", "to_yaml"]

Versions = dict[str, dict[int, PromptVersion]]
_CURRENT = object()


@dataclass(slots=True)
class Catalog:
    """The YAML versions of a config and the database's state at one revision."""

    yaml: Versions
    snapshot: PromptSnapshot

    @classmethod
    async def read(cls, yaml: Versions, store: PromptStore) -> Catalog:
        return cls(yaml, await store.snapshot())

    def names(self) -> list[str]:
        return sorted(set(self.yaml) | set(self.snapshot.versions))

    def versions(self, name: str) -> dict[int, PromptVersion]:
        return dict(sorted({**self.snapshot.versions.get(name, {}), **self.yaml.get(name, {})}.items()))

    def labels(self, name: str) -> dict[str, int | Split]:
        return dict(sorted(self.snapshot.labels.get(name, {}).items()))

    def version(self, name: str, number: int | None = None, label: str | None = None) -> PromptVersion:
        """One version by number, by label (``latest`` too), or the latest.

        Raises:
            PromptNotFoundError: naming what is missing.
        """
        versions = self.versions(name)
        if not versions:
            raise PromptNotFoundError(f"no prompt named {name!r}", param="name")
        if number is None and label not in (None, "latest"):
            target = self.labels(name).get(label or "")
            if target is None:
                raise PromptNotFoundError(f"prompt {name!r} has no label {label!r}", param="label")
            number = _primary(target)
        number = max(versions) if number is None else number
        if number not in versions:
            have = ", ".join(str(n) for n in versions)
            raise PromptNotFoundError(
                f"prompt {name!r} has no version {number}; it has {have}", param="version"
            )
        return versions[number]

    def summary(self) -> list[dict[str, Any]]:
        """One row per prompt: its versions, latest and labels."""
        return [
            {
                "name": name,
                "versions": list(self.versions(name)),
                "latest": max(self.versions(name)),
                "labels": {label: public(target) for label, target in self.labels(name).items()},
            }
            for name in self.names()
        ]

    def describe(self, version: PromptVersion) -> dict[str, Any]:
        """A version as ``show`` prints it: its fields, where it lives, the labels pointing at it."""
        pointing = [
            label
            for label, target in self.labels(version.name).items()
            if target == version.version or (isinstance(target, Split) and version.version in target.versions)
        ]
        return {
            **version.model_dump(mode="json", exclude_defaults=True, exclude={"label"}),
            "name": version.name,
            "version": version.version,
            "source": version.source,
            "labels": pointing,
        }

    async def create(
        self, store: PromptStore, name: str, spec: dict[str, Any], *, by: str, label: str | None = None
    ) -> tuple[PromptVersion, LabelMove | None]:
        """Store ``spec`` as the next version of ``name`` (or the number it gives, if free in both
        sources); with ``label``, point that label at it.

        Raises:
            PromptError: an invalid spec (naming the field), or a number already taken.
        """
        versions = self.versions(name)
        number = spec.get("version", max(versions, default=0) + 1)
        if isinstance(number, int) and number in versions:
            where = versions[number].source
            raise PromptError(
                f"prompt {name!r} already has version {number} ({where}); versions are immutable: "
                "create a new one",
                param="version",
            )
        fields = {key: value for key, value in spec.items() if key not in ("name", "version", "label")}
        try:
            version = PromptVersion.model_validate({**fields, "name": name, "version": number})
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            if first["type"] == "extra_forbidden":
                message = "unknown field; see docs/prompts.md for a version's fields"
            raise PromptError(f"{where + ': ' if where else ''}{message}", param=where or None) from None
        await store.add_version(version, by=by)
        self.snapshot.versions.setdefault(name, {})[version.version] = version
        moved = await self.move(store, name, label, version.version, by=by) if label else None
        return version, moved

    async def move(
        self,
        store: PromptStore,
        name: str,
        label: str,
        to: int | Split | dict[int, float] | None,
        *,
        by: str,
        expected: Any = _CURRENT,
        reason: str = "move",
    ) -> LabelMove:
        """Point ``label`` at version ``to``, or split it by weight (``{3: 90, 4: 10}``, percent),
        or remove it (None) — if it still points where it did when read (or at ``expected``).

        A split is laid out from the label's current buckets, so only the callers who must move do.

        Raises:
            PromptError: a bad label name, weights that are not positive or do not sum to 100, or a
                version that does not exist.
            PromptLabelConflictError: the label moved meanwhile.
        """
        try:
            check_label(label)
        except ValueError as error:
            raise PromptError(str(error), param="label") from None
        if not self.versions(name):
            raise PromptNotFoundError(f"no prompt named {name!r}", param="name")
        current: Target = self.labels(name).get(label) if expected is _CURRENT else expected
        target: Target
        if isinstance(to, dict):
            for number, weight in to.items():
                self.version(name, number)
                if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                    raise PromptError(
                        f"the weight of version {number} must be a positive number", param="split"
                    )
            if abs(sum(to.values()) - 100) > 1e-9:
                raise PromptError(
                    f"a split's weights are percentages summing to 100, not {sum(to.values()):g}",
                    param="split",
                )
            target = allocate(current, to)
        else:
            for number in to.versions if isinstance(to, Split) else () if to is None else (to,):
                self.version(name, number)
            target = to
        return await store.move_label(name, label, target, expected=current, by=by, reason=reason)

    async def rollback(self, store: PromptStore, name: str, label: str, *, by: str) -> LabelMove:
        """Move ``label`` back to the version it pointed at before its last move.

        Raises:
            PromptError: the label has no earlier version to go back to.
            PromptLabelConflictError: the label moved meanwhile.
        """
        current = self.labels(name).get(label)
        history = await store.history(name, label, limit=1)
        if current is None or not history or history[0].to_version != current:
            raise PromptError(
                f"label {label!r} of prompt {name!r} is not set: nothing to roll back", param="label"
            )
        previous = history[0].from_version
        if previous is None:
            raise PromptError(
                f"label {label!r} of prompt {name!r} has pointed only at version {current}: "
                "nothing to roll back to",
                param="label",
            )
        return await self.move(store, name, label, previous, by=by, expected=current, reason="rollback")


def _primary(target: int | Split) -> int:
    """The version a label stands for in ``show`` and ``diff``: a split's largest share."""
    if isinstance(target, Split):
        weights = target.weights()
        return max(weights, key=lambda version: (weights[version], -version))
    return target


def diff(old: PromptVersion, new: PromptVersion) -> str:
    """A unified diff of two versions as YAML (what an operator reviews before moving a label)."""

    def text(version: PromptVersion) -> list[str]:
        fields = version.model_dump(mode="json", exclude_defaults=True, exclude={"label", "source", "name"})
        return to_yaml(fields).splitlines(keepends=True)

    return "".join(
        difflib.unified_diff(text(old), text(new), f"{old.ref} ({old.source})", f"{new.ref} ({new.source})")
    )


class _Dumper(yaml.SafeDumper):
    """YAML as a person writes it: multi-line text as a ``|`` block."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
