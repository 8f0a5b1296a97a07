#!/usr/bin/env python3
"""Writes src/keel/safety/_rule_prefixes.json: the prefixes of every prompt-injection rule, read
from its pattern, so that loading the scanner does not parse each pattern again.

    .venv/bin/python scripts/make_rule_prefixes.py

Run it after changing a rule; tests/safety/test_rule_index.py fails while the file is out of date.
"""

from __future__ import annotations

import json

from keel.safety._injection_layout import STRUCTURE_RULES
from keel.safety._injection_rules import PHRASE_RULES
from keel.safety._rule_index import PREFIX_TABLE, read_prefixes, table_key


def main() -> None:
    table = {}
    for _, _, pattern, _ in PHRASE_RULES + STRUCTURE_RULES:
        found = read_prefixes(pattern)
        table[table_key(pattern)] = None if found is None else sorted(found)
    PREFIX_TABLE.write_text(json.dumps(table, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{PREFIX_TABLE}: {len(table)} rules, {sum(len(v or ()) for v in table.values())} prefixes")


if __name__ == "__main__":
    main()
