"""Safety detectors: personal data and secrets, prompt injection, canaries, and stream matching."""
