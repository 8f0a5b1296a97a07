"""API keys and tokens by their published prefixes: what ``keel.telemetry.logs`` masks, and more.

The log masker's ``sk-…`` and ``Bearer …`` shapes are here too (a test holds the two together); the
other prefixes are the ones their issuers document so that scanners can find leaked keys.
"""

from __future__ import annotations

import re

__all__ = ["SECRET"]

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
