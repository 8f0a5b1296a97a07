"""Prompt versions from a directory of YAML files: ``<dir>/<prompt name>/v<N>.yaml``.

The directory is ``prompts.dir`` in ``keel.yaml``; it is read at start and on every reload, and a
file that does not load refuses the whole config (naming the file and the field), so a reload with a
broken prompt keeps the prompts that were in force.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .version import PromptVersion, check_name

__all__ = ["load_directory"]

_FILE = re.compile(r"v(\d+)\.ya?ml")


def load_directory(directory: str | Path) -> dict[str, dict[int, PromptVersion]]:
    """Every version under ``directory``, by prompt name and number.

    Raises:
        ConfigError: the directory is missing, or a file is not a valid version (named with its field),
            or two files give one prompt the same version.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"prompts.dir: {root} is not a directory")
    found: dict[str, dict[int, PromptVersion]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            name = check_name(folder.name)
        except ValueError as error:
            raise ConfigError(f"prompts.dir: {folder}: {error}") from None
        versions: dict[int, PromptVersion] = {}
        for path in sorted(folder.iterdir()):
            match = _FILE.fullmatch(path.name)
            if match is None:
                continue
            loaded = _load_file(path, name, int(match.group(1)))
            if loaded.version in versions:
                raise ConfigError(
                    f"prompt {name!r} version {loaded.version} is defined twice: "
                    f"{versions[loaded.version].source.removeprefix('yaml:')} and {path}"
                )
            versions[loaded.version] = loaded
        if versions:
            found[name] = versions
    return found


def _load_file(path: Path, name: str, number: int) -> PromptVersion:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot be read as YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping (version:, model:, ...)")
    given = raw.get("version", number)
    if given != number:
        raise ConfigError(f"{path}: says version {given!r} but its file name says v{number}")
    if "name" in raw and raw["name"] != name:
        raise ConfigError(f"{path}: says name {raw['name']!r} but its directory is {name!r}")
    try:
        return PromptVersion.model_validate(
            {**raw, "name": name, "version": number, "source": f"yaml:{path}"}
        )
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown field; see docs/prompts.md for a version's fields"
        raise ConfigError(f"{path}: {where + ': ' if where else ''}{message}") from None
