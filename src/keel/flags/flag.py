"""``Flag``: a feature's variants and who gets which — targeting rules, a sticky rollout, a default.

A flag is evaluated for one call (``Context``: the key, team, user and the attributes sent with the
call) in this order, the first that answers wins:

1. off — killed (``enabled: false``) or turned off by its budget until the budget's window ends;
2. the targeting rules, in order: the first whose conditions all hold picks its variant;
3. the percentage rollout: the caller's bucket (0..9999, a hash of the flag and the caller — the
   prompts' bucketing) falls in a variant's ranges;
4. the default variant, if there is one; else the flag is off for this caller.

Off means the fallback variant when the flag has one, else the call is refused (``feature_disabled``).
A variant may choose the model (an alias or cascade), the prompt (``name``, ``name@3`` or
``name@label``) and parameters; a boolean flag is one variant (``on``) with nothing to change.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..prompts.split import BUCKETS, Split, allocate, bucket

__all__ = ["Context", "Decision", "Flag", "Rule", "Variant", "layout_rollout"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
Reason = Literal["off", "killed", "budget", "targeted", "rollout", "default", "fallback", "provider"]


class Variant(BaseModel):
    """What a variant changes in the call: its model, its prompt, its parameters (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, description="a model alias or cascade the call goes to")
    prompt: str | None = Field(None, description="a named prompt: name, name@3 or name@label")
    params: dict[str, Any] = Field(default_factory=dict, description="parameters set on the call")


class Rule(BaseModel):
    """A targeting rule: the callers it matches (every condition given must hold) get ``variant``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variant: str
    keys: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    attributes: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="attribute: accepted values (any one)"
    )

    def matches(self, context: Context) -> bool:
        if self.keys and context.key not in self.keys:
            return False
        if self.teams and context.team not in self.teams:
            return False
        if self.users and context.user not in self.users:
            return False
        return all(str(context.attributes.get(name)) in values for name, values in self.attributes.items())


class Flag(BaseModel):
    """One feature's flag as stored (``keel flags set``); ``revision`` counts its changes."""

    model_config = ConfigDict(extra="forbid")

    name: str
    enabled: bool = True
    variants: dict[str, Variant] = Field(default_factory=lambda: {"on": Variant()})
    rules: list[Rule] = Field(default_factory=list)
    rollout: dict[str, float] = Field(default_factory=dict, description="variant: percent of callers")
    default: str | None = Field(None, description="the variant of callers no rule or rollout picked")
    fallback: str | None = Field(None, description="the variant served while the flag is off")
    layout: str | None = Field(None, description="the rollout's bucket ranges (kept so raising moves few)")
    off_reason: str | None = None
    off_until: float | None = Field(None, description="turned off by its budget until then (epoch s)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("a flag's name: a letter, then letters, digits, _ . - (64 at most)")
        return value

    @model_validator(mode="after")
    def _known(self) -> Flag:
        for variant in self.variants:
            if not _NAME.fullmatch(variant):
                raise ValueError(f"variant {variant!r}: a letter, then letters, digits, _ . - (64 at most)")
        named = [*(rule.variant for rule in self.rules), *self.rollout, self.default, self.fallback]
        for used in named:
            if used is not None and used not in self.variants:
                raise ValueError(f"variant {used!r} is not one of {', '.join(self.variants)}")
        for variant, share in self.rollout.items():
            if not 0 <= share <= 100:
                raise ValueError(f"rollout {variant}: {share} is not a percentage")
        if sum(self.rollout.values()) > 100 + 1e-9:
            raise ValueError("the rollout's percentages add up to more than 100")
        return self

    def off_now(self, now: float | None = None) -> str | None:
        """Why the flag is off for everyone now (``killed``, ``budget``), or None."""
        if not self.enabled:
            return "killed"
        if self.off_until is not None and (now if now is not None else time.time()) < self.off_until:
            return "budget"
        return None

    def evaluate(self, context: Context) -> Decision:
        """The variant ``context`` gets (None: off) and why."""
        off = self.off_now()
        if off is not None:
            return self._off(off)
        for rule in self.rules:
            if rule.matches(context):
                return self._on(rule.variant, "targeted")
        if self.rollout and self.layout is not None:
            order, split = _read_layout(self.layout)
            picked = order[split.pick(bucket(self.name, "flag", context.caller))]
            if picked:
                return self._on(picked, "rollout")
        if self.default is not None:
            return self._on(self.default, "default")
        return self._off("off")

    def _on(self, variant: str, why: Reason) -> Decision:
        return Decision(self.name, variant, why, settings=self.variants[variant])

    def _off(self, why: Reason | str) -> Decision:
        if self.fallback is not None:
            return Decision(
                self.name, self.fallback, "fallback", off=why, settings=self.variants[self.fallback]
            )
        return Decision(self.name, None, "off", off=why)

    def public(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"layout"})
        data["state"] = self.state()
        return data

    def state(self) -> str:
        """The flag's state in a few words, as ``keel flags list`` shows it."""
        off = self.off_now()
        if off == "killed":
            return "off (killed)"
        if off == "budget":
            return f"off ({self.off_reason or 'budget exhausted'})"
        if self.rollout:
            return "on: " + ", ".join(f"{v} {p:g}%" for v, p in self.rollout.items())
        return "on" if self.default is not None or self.rules else "off (no rollout, no default)"


@dataclass(frozen=True, slots=True)
class Context:
    """Who a call is for: its key id, team, user and attributes; the rollout sticks to the user
    (else the key)."""

    key: str | None = None
    team: str | None = None
    user: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def caller(self) -> str:
        return self.user or self.key or ""


@dataclass(frozen=True, slots=True)
class Decision:
    """A flag's answer for one call: the variant served (None: refused) and the reason."""

    flag: str
    variant: str | None
    reason: str
    off: str | None = None
    """Why the flag is off for this caller (killed, budget, off), when it is."""
    stale: float | None = None
    settings: Variant | None = None
    """What the variant changes in the call."""


def layout_rollout(previous: str | None, rollout: dict[str, float]) -> str | None:
    """The rollout's bucket ranges for ``rollout``, laid out from ``previous`` so only the callers
    who must move do (raising 10 % to 20 % keeps the first 10 % on): the prompts' ``allocate``.
    The callers outside every variant's share sit in the range of ``""`` (no variant)."""
    if not rollout:
        return None
    order = ["", *sorted(rollout)]
    weights = {index: rollout[name] for index, name in enumerate(order) if name}
    weights[0] = max(0.0, 100 - sum(weights.values()))
    before: int | Split | None = None
    if previous is not None:
        old_order, old = _read_layout(previous)
        kept = tuple(
            (order.index(old_order[index]), ranges)
            for index, ranges in old.ranges
            if old_order[index] in order
        )
        before = Split(tuple(sorted(kept))) if kept else None
    laid = allocate(before, weights)
    split = laid if isinstance(laid, Split) else Split(((laid, ((0, BUCKETS),)),))
    return f"{','.join(order)}|{split.text()}"


@lru_cache(maxsize=256)  # a flag's layout is read once, not per call
def _read_layout(text: str) -> tuple[list[str], Split]:
    names, _, split = text.partition("|")
    return names.split(","), Split.from_text(split)
