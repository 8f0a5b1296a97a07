"""CPU cost of the safety detectors per KB of prompt text: find_pii, the Pseudonymizer, the injection
scanner, and libphonenumber's own matcher for comparison.

Texts: ``plain`` (Keel's docs with every digit, @, ``::`` and key prefix removed: the pre-check
path), ``prose`` (the docs with every digit and @ removed: keys and IPv6 are still looked for),
``docs`` (Keel's docs as written: numbers, code, dates, versions; typical technical prompt text),
``support`` (customer messages with an e-mail, a phone number, an order number and a date in each
paragraph), ``dense`` (the PII corpus's positive sentences), ``lorem`` (lorem ipsum: none of the
detectors' trigger words). Each measurement runs in interleaved
rounds (every text and detector once per round) and the median of the rounds is reported, in
microseconds of process CPU time per KB. ``--compare REV`` adds the injection scanner as it was at
git revision ``REV`` (its ``keel/safety`` modules loaded as a package of their own), measured in the
same rounds, for a before/after on a noisy machine.

Run: ``.venv/bin/python bench/pii_cost.py [--rounds 7] [--compare REV]``.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from keel.safety.injection import scan  # noqa: E402
from keel.safety.pii import find_pii  # noqa: E402
from keel.safety.pseudonymize import Pseudonymizer  # noqa: E402

LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed eiusmod tempor incididunt ut labore et"
    " dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex"
    " ea commodo consequat duis aute irure reprehenderit voluptate velit esse cillum fugiat nulla pariatur"
    " excepteur sint occaecat cupidatat proident sunt culpa qui officia deserunt mollit anim id est laborum"
)


def texts() -> dict[str, str]:
    docs = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md")))[:64_000]
    support = "\n\n".join(
        f"Hi, I'm writing about order #{100_000 + i * 7919} placed on 2026-0{1 + i % 9}-1{i % 10}. "
        f"It still hasn't arrived and the tracking page shows nothing. You can reach me at "
        f"customer{i}@example.com or on +44 20 7946 0{i % 1000:03d}. I've been a customer for {i % 12 + 1} "
        f"years and this is the first time something like this has happened. Could you check with the "
        f"courier and let me know? Thanks, and sorry for the long message."
        for i in range(120)
    )
    corpus = ROOT / "tests" / "safety" / "corpus" / "pii.jsonl"
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    # Rows with a generated credential keep their text base64-encoded (no key-shaped line committed).
    texts = [row["text"] if "text" in row else base64.b64decode(row["text_b64"]).decode() for row in rows]
    dense = "\n".join(text for text, row in zip(texts, rows, strict=True) if row["spans"])
    prose = re.sub(r"[0-9@]", "", docs)
    words = LOREM.split()
    lorem = "\n\n".join(
        " ".join(words[(i * 7 + j) % len(words)] for j in range(60)).capitalize() + "." for i in range(700)
    )
    return {
        "plain": re.sub(r"::|(?<![\w-])(?:sk-|hf_)|Bearer|BEGIN|eyJ", "", prose),
        "prose": prose,
        "docs": docs,
        "support": support,
        "dense": dense,
        "lorem": lorem[:40_000],
    }


def scanner_at(rev: str) -> Callable[[str], object]:
    """``keel.safety.injection.scan`` as it was at git revision ``rev``."""
    package = Path(tempfile.mkdtemp()) / "keel_at_rev"
    (package / "safety").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    git = ["git", "-C", str(ROOT)]
    paths = subprocess.run(
        [*git, "ls-tree", "--name-only", rev, "src/keel/safety/"], check=True, capture_output=True
    )
    for path in paths.stdout.decode().split():
        if path.endswith(".py"):
            source = subprocess.run([*git, "show", f"{rev}:{path}"], check=True, capture_output=True).stdout
            (package / "safety" / Path(path).name).write_bytes(source)
    sys.path.insert(0, str(package.parent))
    return importlib.import_module("keel_at_rev.safety.injection").scan


def cpu_us_per_kb(fn: Callable[[str], object], text: str, budget_s: float = 0.25) -> float:
    runs = 0
    start = time.process_time()
    while True:
        fn(text)
        runs += 1
        elapsed = time.process_time() - start
        if elapsed >= budget_s:
            break
    return elapsed / runs * 1e6 / (len(text.encode()) / 1024)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--compare", metavar="REV", help="also run the injection scanner as it was at REV")
    args = parser.parse_args()

    import phonenumbers

    def pseudonymize(text: str) -> object:
        return Pseudonymizer().pseudonymize(text)

    def libphonenumber_matcher(text: str) -> object:
        return list(phonenumbers.PhoneNumberMatcher(text, "US"))

    detectors: dict[str, Callable[[str], object]] = {
        "find_pii": find_pii,
        "pseudonymize": pseudonymize,
        "injection scan": scan,
        "phonenumbers.PhoneNumberMatcher": libphonenumber_matcher,
    }
    if args.compare:
        detectors[f"injection scan at {args.compare}"] = scanner_at(args.compare)
    samples = texts()
    for text in samples.values():  # warm: imports, compiled patterns
        for fn in detectors.values():
            fn(text[:2000])
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, text in samples.items():
            for detector, fn in detectors.items():
                results.setdefault((detector, name), []).append(cpu_us_per_kb(fn, text))

    names = list(samples)
    print(f"median of {args.rounds} interleaved rounds, µs of CPU per KB of text")
    print("| detector | " + " | ".join(f"{n} ({len(samples[n].encode()) // 1024} KB)" for n in names) + " |")
    print("|---|" + "---:|" * len(names))
    for detector in detectors:
        cells = [f"{statistics.median(results[(detector, n)]):.0f}" for n in names]
        print(f"| {detector} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
