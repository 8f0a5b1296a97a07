"""API keys and tokens by their published prefixes, at two strictnesses.

``SECRET`` finds them in text Keel redacts (requests, what it writes): what ``keel.telemetry.logs``
masks, and more — the log masker's ``sk-…`` and ``Bearer …`` shapes are here too (a test holds the
two together); the other prefixes are the ones their issuers document so that scanners can find
leaked keys. ``ANSWER_SECRET`` decides whether an answer is stopped (the output guard): stricter
where a redaction may be loose — an answer that explains ``Authorization: Bearer <token>`` or
``sk-...`` is not a leak — with the prefixes every credential begins with, so that text without one
is not scanned.
"""

from __future__ import annotations

import re

__all__ = ["ANSWER_SECRET", "ANSWER_SECRET_PREFIXES", "LONGEST_ANSWER_SECRET", "SECRET"]

SECRET = re.compile(
    r"(?<![\w-])(?:"
    r"sk-ant-[A-Za-z0-9_\-]{8,}"  # Anthropic
    r"|sk-[A-Za-z0-9_\-]{8,}"  # OpenAI (sk-, sk-proj-, sk-svcacct-)
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_\-]{35}"  # Google API key
    r"|glpat-[A-Za-z0-9_\-]{20,}"  # GitLab
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"  # JWT
    r"|Bearer\s+[A-Za-z0-9._~+/\-]{8,}=*"  # an Authorization header's credentials
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
    r")"
)

ANSWER_SECRET = re.compile(
    "|".join(
        (
            r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{20,}",  # Anthropic
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",  # OpenAI, and Keel's virtual keys
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
            r"\bgh[pousr]_[A-Za-z0-9]{36,}",  # GitHub tokens
            r"\bgithub_pat_[A-Za-z0-9_]{22,}",
            r"\bxox[abprs]-[A-Za-z0-9\-]{10,}",  # Slack
            r"\bAIza[0-9A-Za-z_\-]{35}\b",  # Google API keys
            r"\b[rs]k_live_[0-9A-Za-z]{24,}",  # Stripe
            r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----",
            r"\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",  # JWTs
        )
    )
)
# The longest text a secret needs before the pattern recognises it (its shortest match): a scan of
# this many characters before the new text never misses one.
LONGEST_ANSWER_SECRET = 64
# How every secret above begins: text with none of these cannot start one, so it is not scanned.
ANSWER_SECRET_PREFIXES = (
    "sk-",
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xoxa-",
    "xoxb-",
    "xoxp-",
    "xoxr-",
    "xoxs-",
    "AIza",
    "rk_live_",
    "sk_live_",
    "-----BEGIN ",
    "eyJ",
)
