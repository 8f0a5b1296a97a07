"""Writes the PII detection corpus (tests/safety/corpus/pii.jsonl) from Faker with a fixed seed.

Positives are Faker values in the formats Faker prints for each locale, embedded in sentences in the
locale's language; negatives are look-alikes that no PII detector should report (order numbers,
versions, dates, prices, tracking codes, ISBNs, UUIDs, colours, timestamps, ...). One JSON object a
line: ``text``, ``spans`` (kind, start, end of each PII value in ``text``) and ``source`` (the
locale and generator, or the look-alike's kind).

Faker prints some values that are not what they claim: phone numbers that are no number of the
locale's country at all (``00008063608`` for de_DE), kept out by libphonenumber's
``is_possible_number`` for the locale's region, and en_IN IBANs with a GB country code but the
wrong length or check digits, kept out by python-stdnum's ISO 13616 check (an authority apart from
Keel's detector). The script says how many of each it dropped.

Run: ``.venv/bin/python scripts/make_pii_corpus.py`` (needs the ``safety`` extra and Faker).
"""

from __future__ import annotations

import base64
import json
import random
import string
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import phonenumbers
from faker import Faker
from stdnum import iban as iso13616

SEED = 20
# Faker draws dates up to "now" unless told otherwise: a fixed end keeps the corpus the same every day.
END = datetime(2026, 12, 1, tzinfo=UTC)
OUT = Path(__file__).resolve().parent.parent / "tests" / "safety" / "corpus" / "pii.jsonl"

# locale -> (phone region, sentence language)
LOCALES = {
    "en_US": ("US", "en"),
    "en_GB": ("GB", "en"),
    "fr_FR": ("FR", "fr"),
    "de_DE": ("DE", "de"),
    "es_ES": ("ES", "es"),
    "it_IT": ("IT", "it"),
    "nl_NL": ("NL", "nl"),
    "pt_BR": ("BR", "pt"),
    "ja_JP": ("JP", "en"),
    "en_IN": ("IN", "en"),
}

TEMPLATES = {
    "en": [
        "You can reach me at {v} if anything changes.",
        "Please update the record: {v}.",
        "Customer wrote: my details are {v}, thanks!",
        "{v} is the one on file, can you check it?",
        "Send the confirmation to {v} and cc the team.",
        "The form lists {v} under contact information.",
    ],
    "fr": [
        "Vous pouvez me joindre au {v} si besoin.",
        "Merci de mettre à jour la fiche : {v}.",
        "Le client indique {v} comme coordonnée principale.",
    ],
    "de": [
        "Sie erreichen mich unter {v}, vielen Dank.",
        "Bitte aktualisieren Sie den Eintrag: {v}.",
        "Der Kunde hat {v} angegeben.",
    ],
    "es": [
        "Puede contactarme en {v} cuando quiera.",
        "Por favor, actualice el registro: {v}.",
        "El cliente indicó {v} como dato de contacto.",
    ],
    "it": [
        "Potete contattarmi al {v} per qualsiasi cosa.",
        "Aggiornate la scheda con {v}, grazie.",
    ],
    "nl": [
        "U kunt mij bereiken via {v}.",
        "Graag het dossier bijwerken: {v}.",
    ],
    "pt": [
        "Pode me contatar pelo {v} a qualquer hora.",
        "Por favor, atualize o cadastro: {v}.",
    ],
}

KIND_TEMPLATES = {
    "card": [
        "Charge the card {v}, expiry 09/28.",
        "My credit card number is {v} — please refund the last order.",
        "Payment failed for card {v}; the bank declined it.",
        "Use {v} for the subscription renewal.",
    ],
    "iban": [
        "Please wire the deposit to IBAN {v} by Friday.",
        "Refund to {v} (account holder: the customer).",
        "Notre IBAN est {v}.",
        "Bitte überweisen Sie den Betrag auf {v}.",
    ],
    "national_id": [
        "Applicant ID: {v}, verified by the clerk.",
        "The tax form shows {v} as the identification number.",
        "Her social security number is {v}.",
        "Numéro de sécurité sociale : {v}.",
        "Codice fiscale: {v}.",
    ],
    "ip": [
        "The request came from {v} at 02:14 UTC.",
        "Block {v} in the firewall, it keeps probing port 22.",
        "Server logs show repeated logins from {v}.",
        "Whitelist {v} for the staging API.",
    ],
    "secret": [
        "Here is my key {v}, why does the API return 401?",
        "export OPENAI_API_KEY={v}",
        "curl -H 'Authorization: {v}' https://api.example.com/v1/models",
        'The config has token = "{v}" — is that safe to commit?',
        "I accidentally pasted {v} in the chat, please ignore it.",
    ],
}


def _sentence(rng: random.Random, language: str, kind: str, value: str) -> dict[str, object]:
    pool = KIND_TEMPLATES.get(kind) if kind in KIND_TEMPLATES and rng.random() < 0.6 else None
    template = rng.choice(pool or TEMPLATES[language])
    start = template.index("{v}")
    text = template.replace("{v}", value)
    return {"text": text, "spans": [{"kind": kind, "start": start, "end": start + len(value)}]}


def _grouped(value: str, size: int = 4) -> str:
    return " ".join(value[i : i + size] for i in range(0, len(value), size))


def _token(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _secret(rng: random.Random) -> str:
    alnum = string.ascii_letters + string.digits
    upper = string.ascii_uppercase + string.digits
    b64url = alnum + "-_"
    kinds = [
        lambda: "sk-" + _token(rng, alnum, 48),
        lambda: "sk-proj-" + _token(rng, b64url, 64),
        lambda: "sk-ant-api03-" + _token(rng, b64url, 80),
        lambda: "AKIA" + _token(rng, upper, 16),
        lambda: "ghp_" + _token(rng, alnum, 36),
        lambda: "github_pat_" + _token(rng, alnum, 22) + "_" + _token(rng, alnum, 59),
        lambda: (
            "xoxb-"
            + _token(rng, string.digits, 12)
            + "-"
            + _token(rng, string.digits, 13)
            + "-"
            + _token(rng, alnum, 24)
        ),
        lambda: "AIza" + _token(rng, b64url, 35),
        lambda: "glpat-" + _token(rng, b64url, 20),
        lambda: "hf_" + _token(rng, string.ascii_letters, 34),
        lambda: "Bearer " + _token(rng, b64url, 40),
        lambda: _jwt(rng),
    ]
    return rng.choice(kinds)()


def _jwt(rng: random.Random) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    header = part({"alg": "HS256", "typ": "JWT"})
    payload = part({"sub": str(rng.randrange(10**6)), "iat": 1_700_000_000 + rng.randrange(10**7)})
    signature = _token(rng, string.ascii_letters + string.digits + "-_", 43)
    return f"{header}.{payload}.{signature}"


def positives(rng: random.Random) -> tuple[list[dict[str, object]], tuple[int, int]]:
    rows: list[dict[str, object]] = []
    dropped = 0
    dropped_ibans = 0
    fakers = {}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(SEED)
        fakers[locale] = fake
    for locale, fake in fakers.items():
        region, language = LOCALES[locale]
        for _ in range(4):
            row = _sentence(rng, language, "email", fake.email())
            rows.append({**row, "source": f"faker {locale} email"})
        kept = 0
        while kept < 7:
            number = fake.phone_number()
            try:
                possible = phonenumbers.is_possible_number(phonenumbers.parse(number, region))
            except phonenumbers.NumberParseException:
                possible = False
            if not possible:
                dropped += 1
                continue
            kept += 1
            rows.append({**_sentence(rng, language, "phone", number), "source": f"faker {locale} phone"})
        made = 0
        for _ in range(20):  # en_IN's Faker never makes a valid one
            if made == 4:
                break
            value = fake.iban()
            if not iso13616.is_valid(value):
                dropped_ibans += 1
                continue
            made += 1
            value = _grouped(value) if rng.random() < 0.5 else value
            rows.append({**_sentence(rng, language, "iban", value), "source": f"faker {locale} iban"})
    us = fakers["en_US"]
    for card_type in ["visa16", "visa13", "mastercard", "amex", "discover", "diners", "jcb16", "maestro"]:
        for _ in range(5):
            value = us.credit_card_number(card_type=card_type)
            if rng.random() < 0.4 and len(value) == 16:
                value = _grouped(value) if rng.random() < 0.5 else _grouped(value).replace(" ", "-")
            rows.append({**_sentence(rng, "en", "card", value), "source": f"faker credit_card {card_type}"})
    ids = [
        ("en_US", lambda f: f.ssn(), "en"),
        ("fr_FR", lambda f: f.ssn(), "fr"),
        ("it_IT", lambda f: f.ssn(), "it"),
        ("nl_NL", lambda f: f.ssn(), "nl"),
        ("pt_BR", lambda f: f.cpf(), "pt"),
        ("es_ES", lambda f: f.nif(), "es"),
        ("es_ES", lambda f: f.nie(), "es"),
    ]
    for locale, make, language in ids:
        for _ in range(6):
            value = make(fakers[locale])
            rows.append({**_sentence(rng, language, "national_id", value), "source": f"faker {locale} id"})
    for _ in range(12):
        rows.append({**_sentence(rng, "en", "ip", us.ipv4_public()), "source": "faker ipv4_public"})
    for _ in range(8):
        rows.append({**_sentence(rng, "en", "ip", us.ipv4_private()), "source": "faker ipv4_private"})
    for _ in range(10):
        rows.append({**_sentence(rng, "en", "ip", us.ipv6()), "source": "faker ipv6"})
    for _ in range(30):
        rows.append({**_sentence(rng, "en", "secret", _secret(rng)), "source": "generated secret"})
    # A few sentences with two values of different kinds.
    for locale in ["en_US", "fr_FR", "de_DE", "en_GB"]:
        fake = fakers[locale]
        email, iban = fake.email(), fake.iban()
        text = f"Contact {email} about the transfer to {iban}."
        rows.append(
            {
                "text": text,
                "spans": [
                    {"kind": "email", "start": text.index(email), "end": text.index(email) + len(email)},
                    {"kind": "iban", "start": text.index(iban), "end": text.index(iban) + len(iban)},
                ],
                "source": f"faker {locale} email+iban",
            }
        )
    return rows, (dropped, dropped_ibans)


def negatives(rng: random.Random) -> list[dict[str, object]]:
    fake = Faker("en_US")
    fake.seed_instance(SEED + 1)
    digits = string.digits

    def n(k: int) -> str:
        return _token(rng, digits, k)

    makers = {
        "order number": lambda: rng.choice(
            [
                f"Order #{n(7)} has shipped.",
                f"Your order ORD-{fake.date(end_datetime=END, pattern='%Y')}-{n(6)} is confirmed.",
                f"Reference number {n(10)} for your return.",
                f"Invoice INV-{n(4)}-{n(5)} is overdue.",
                f"Order no. {n(3)}-{n(7)}-{n(7)} was delivered.",
            ]
        ),
        "version": lambda: rng.choice(
            [
                f"Upgrade to version {rng.randrange(1, 20)}.{rng.randrange(40)}.{rng.randrange(40)} first.",
                f"It broke in v{rng.randrange(1, 9)}.{rng.randrange(30)}.{rng.randrange(30)}-rc.{rng.randrange(5)}.",  # noqa: E501
                f"Windows build {rng.randrange(6, 11)}.0.{rng.randrange(10000, 26000)}.{rng.randrange(3000)}.",  # noqa: E501
                f"pip install requests=={rng.randrange(1, 3)}.{rng.randrange(32)}.{rng.randrange(10)}",
                f"Tested with Chrome {rng.randrange(90, 130)}.0.{rng.randrange(6000)}.{rng.randrange(200)}.",
            ]
        ),
        "date": lambda: rng.choice(
            [
                f"The meeting is on {fake.date(end_datetime=END)}.",
                f"Due {fake.date(end_datetime=END, pattern='%d/%m/%Y')}, please confirm.",
                f"Signed on {fake.date(end_datetime=END, pattern='%d.%m.%Y')} in Berlin.",
                f"Born {fake.date(end_datetime=END, pattern='%m-%d-%Y')}.",
                f"Period {fake.date(end_datetime=END, pattern='%Y%m%d')} "
                f"to {fake.date(end_datetime=END, pattern='%Y%m%d')}.",
            ]
        ),
        "timestamp": lambda: rng.choice(
            [
                f"Logged at {fake.iso8601(end_datetime=END)}Z.",
                f"Unix time {rng.randrange(1_500_000_000, 1_800_000_000)}.",
                f"created_at: {rng.randrange(1_500_000_000_000, 1_800_000_000_000)}",
                f"[{fake.date_time(end_datetime=END).strftime('%Y-%m-%d %H:%M:%S')}] worker started",
            ]
        ),
        "price": lambda: rng.choice(
            [
                f"It costs ${rng.randrange(1, 5000)}.{n(2)} plus tax.",
                f"Total: {rng.randrange(1, 99)} {n(3)},{n(2)} €.",
                f"Budget approved: USD {rng.randrange(1, 999)},{n(3)},{n(3)}.",
                "Salary range 45,000-60,000 per year.",
            ]
        ),
        "tracking code": lambda: rng.choice(
            [
                f"UPS tracking 1Z{_token(rng, string.ascii_uppercase + digits, 16)}.",
                f"USPS tracking {n(4)} {n(4)} {n(4)} {n(4)} {n(4)} {n(2)}.",
                f"FedEx tracking number {n(12)}.",
                f"DHL shipment {n(10)} is in transit.",
                f"Parcel JD{n(18)} arrived at the depot.",
            ]
        ),
        "isbn": lambda: f"See ISBN {fake.isbn13()} for the second edition.",
        "isbn10": lambda: f"Cited as ISBN {fake.isbn10()}.",
        "uuid": lambda: f"Request id {uuid.UUID(int=rng.getrandbits(128), version=4)} failed.",
        "hex colour": lambda: f"Use {fake.hex_color()} for the header and {fake.hex_color()} for links.",
        "git sha": lambda: f"Reverted commit {_token(rng, '0123456789abcdef', 40)} on main.",
        "time": lambda: (
            f"Opening hours {rng.randrange(6, 11)}:00-{rng.randrange(16, 23)}:30, lunch 12:00:00."
        ),
        "measurement": lambda: rng.choice(
            [
                f"The file is {rng.randrange(1, 900)} {n(3)} {n(3)} bytes.",
                f"Distance: {n(3)}.{n(2)} km.",
                f"Coordinates {fake.latitude()}, {fake.longitude()}.",
                f"Resolution 1920x1080 at {n(3)} Hz.",
            ]
        ),
        "code": lambda: rng.choice(
            [
                "@dataclass\nclass User:\n    email: str",
                "Use @app.route('/login') for the form.",
                "npm i @types/node@20.11.5",
                f"ping me @{fake.user_name()} on the channel",
                "ssh deploy@prod",
                "the regex is ^[a-z]+@[a-z]+$",
                "std::vector<int> v; v.push_back(1);",
                f"MAC address {fake.mac_address()}",
                f"SELECT * FROM t WHERE id = {n(9)};",
            ]
        ),
        "id number": lambda: rng.choice(
            [
                f"Serial number SN-{n(4)}-{n(4)}-{n(4)}.",
                f"Case {n(3)}-{n(2)}-{n(4)}-{n(2)} is closed.",
                f"Patent US{n(7)}B2.",
                f"CAS number {n(4)}-{n(2)}-{n(1)}.",
                f"Employee number {n(6)}.",
                f"Ticket JIRA-{n(5)} blocks the release.",
                f"Room {n(1)}-{n(3)}, building {n(2)}.",
                f"Flight LH{n(3)} departs from gate {n(2)}.",
            ]
        ),
        "random digits": lambda: f"Lottery numbers: {' '.join(str(rng.randrange(1, 50)) for _ in range(6))}.",
        "math": lambda: f"{n(3)} x {n(3)} = {n(6)} and {n(4)} - {n(4)} = {n(4)}.",
        "range": lambda: f"Pages {n(3)}-{n(3)} and {n(3)}-{n(3)} are missing.",
    }
    names = list(makers)
    rows = []
    for i in range(240):
        name = names[i % len(names)]
        rows.append({"text": makers[name](), "spans": [], "source": f"look-alike {name}"})
    return rows


def main() -> int:
    rng = random.Random(SEED)
    pos, (dropped, dropped_ibans) = positives(rng)
    neg = negatives(rng)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as out:
        for row in pos + neg:
            if row.get("source") == "generated secret":  # no key-shaped line committed: base64
                text = str(row.pop("text"))
                row = {"text_b64": base64.b64encode(text.encode()).decode(), **row}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    values = sum(len(row["spans"]) for row in pos)  # type: ignore[arg-type]
    print(
        f"{OUT}: {len(pos)} positive sentences ({values} values), {len(neg)} negatives; "
        f"{dropped} Faker phone numbers dropped as impossible for their region, "
        f"{dropped_ibans} Faker IBANs as failing ISO 13616",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
