"""The named patterns of the prompt-injection scanner, each with the weight of its evidence.

Weights are probabilities that one hit alone means an attack; the scanner combines the rules that
fire (``1 - prod(1 - w)``), so two weak signals together pass a threshold one alone does not. Each
rule has anchors, plain substrings one of which any match contains: a substring test is far cheaper
than a regular-expression scan, so most rules cost nothing on text that has none of their words.
"""

from __future__ import annotations

import re

__all__ = ["PHRASE_RULES", "STRUCTURE_RULES", "Rule"]

# (name, weight, pattern, anchors): the pattern runs only on text whose lower case holds an anchor.
Rule = tuple[str, float, re.Pattern[str], tuple[str, ...]]

_I = re.IGNORECASE | re.MULTILINE


def _r(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _I)


_OBJECTS_EN = (
    r"(?:instructions?|prompts?|rules|directions|directives|guidelines|guidance|programming|restrictions"
    r"|polic(?:y|ies)|filters|constraints|training|guardrails|system message)"
)
_QUALIFIERS_EN = (
    r"(?:previous|prior|above|earlier|preceding|former|original|initial|old|system|developer|safety)"
)

# Rules over the words of the text (run on the text as written and on its folded forms).
_PHRASE: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "override",
        0.9,
        _r(
            r"\b(?:ignor(?:e|ing)|disregard(?:ing)?|forget(?:ting)?|override|bypass|discard|nevermind"
            r"|never mind|abandon|set aside)\b"
            rf"[^.\n!?]{{0,40}}?\b{_OBJECTS_EN}\b"
        ),
    ),
    (
        "override",
        0.8,
        _r(
            rf"\b(?:ignore|disregard|forget)\s+(?:all\s+|the\s+)?{_QUALIFIERS_EN}\s+(?:context|conversation|messages)\b"
        ),
    ),
    (
        "override",
        0.9,
        _r(
            r"\b(?:ignore|disregard|forget)\s+(?:everything|all|anything)\b[^.\n]{0,30}?\b(?:above|before|told|said)\b"
        ),
    ),
    ("override", 0.8, _r(r"\b(?:ignore|disregard)\s+the\s+above\b")),
    ("override", 0.8, _r(rf"\bdo\s+not\s+(?:follow|obey|listen\s+to)\s+(?:the|your|any)\s+{_OBJECTS_EN}")),
    (
        "override",
        0.8,
        _r(
            rf"\b{_QUALIFIERS_EN}\s+{_OBJECTS_EN}\s+(?:are|were|is|was)\s+(?:now\s+)?"
            r"(?:cancell?ed|void|null|revoked|obsolete|a test|fake|no longer valid)"
        ),
    ),
    ("override", 0.8, _r(rf"\b{_OBJECTS_EN}\s+above\s+(?:were|was|are)\s+(?:just\s+)?a\s+test\b")),
    (
        "override_fr",
        0.9,
        _r(
            r"\b(?:ignore[sz]?|oublie[sz]?|ne\s+tiens?\s+pas\s+compte|ne\s+tenez\s+pas\s+compte|fai(?:s|tes)\s+abstraction)"
            r"\b[^.\n]{0,40}?\b(?:instructions?|consignes?|règles|directives|prompt|indications)\b"
        ),
    ),
    (
        "override_de",
        0.9,
        _r(
            r"\b(?:ignorier\w*|vergiss\w*|missacht\w*|übergeh\w*)\b[^.\n]{0,40}?"
            r"(?:anweisung\w*|instruktion\w*|regeln|richtlinien|vorgaben|systemprompt|befehle)"
        ),
    ),
    ("override_de", 0.8, _r(r"\bvergiss\s+alles\b[^.\n]{0,30}?\b(?:vorher|zuvor|bisher|gesagt)\b")),
    (
        "override_es",
        0.9,
        _r(
            r"\b(?:ignora\w*|olvida\w*|no\s+sigas|haz\s+caso\s+omiso|omite|descarta)\b[^.\n]{0,40}?"
            r"\b(?:instrucciones|reglas|indicaciones|directrices|prompt|órdenes)\b"
        ),
    ),
    (
        "override_it",
        0.9,
        _r(
            r"\b(?:ignora|dimentica|non\s+seguire|trascura)\b[^.\n]{0,40}?\b(?:istruzioni|regole|indicazioni|direttive)\b"
        ),
    ),
    (
        "override_pt",
        0.9,
        _r(
            r"\b(?:ignore|esqueça|esqueca|desconsidere|não\s+siga)\b[^.\n]{0,40}?"
            r"\b(?:instruções|instrucoes|regras|diretrizes)\b"
        ),
    ),
    (
        "override_nl",
        0.9,
        _r(r"\b(?:negeer|vergeet|ignoreer)\b[^.\n]{0,40}?\b(?:instructies|regels|richtlijnen|opdrachten)\b"),
    ),
    (
        "prompt_extraction",
        0.8,
        _r(
            r"\b(?:your|its|ton|tu|il\s+tuo|das|dein(?:en)?|o\s+seu)\s+(?:system\s+prompt|system\s+message|initial\s+prompt"
            r"|original\s+prompt|hidden\s+(?:instructions|prompt)|secret\s+instructions|prompt\s+système"
            r"|systemprompt|prompt\s+del\s+sistema|prompt\s+di\s+sistema)\b"
            r"|\b(?:print|reveal|show|output|repeat|quote|tell\s+me|translate|give\s+me|leak|dump|révèle|verrate|revela"
            r"|rivela|mostre|toon)\b[^.\n]{0,30}?\b(?:the|le|das|el|il|o|de)\s+(?:original\s+|initial\s+|hidden\s+|full\s+)?"
            r"(?:system\s*prompt|system\s+message|initial\s+prompt|original\s+prompt|prompt\s+système|systemprompt|prompt\s+del\s+sistema"
            r"|prompt\s+di\s+sistema|systeemprompt|hidden\s+instructions|secret\s+instructions)\b"
        ),
    ),
    (
        "prompt_extraction",
        0.7,
        _r(
            r"\b(?:print|reveal|show|output|repeat|quote|tell\s+me)\b[^.\n]{0,20}?\byour\s+(?:instructions|prompt|rules)\b"
        ),
    ),
    (
        "prompt_extraction",
        0.4,
        _r(r"\b(?:repeat|output|print)\b[^.\n]{0,20}\b(?:words|text|everything)\s+(?:above|before)"),
    ),
    (
        "prompt_extraction",
        0.6,
        _r(r"\bbefore\s+(?:this|the)\s+conversation\b|\bcontext\s+window\b|\bwhat\s+were\s+you\s+told\b"),
    ),
    (
        "verbatim",
        0.3,
        _r(r"\b(?:verbatim|word\s+for\s+word|starting\s+with\s+the\s+phrase|in\s+full|exactly)\b"),
    ),
    (
        "jailbreak_persona",
        0.9,
        _r(
            r"\b(?:pretend|you\s+are|you're|act\s+as|be)\b[^.\n]{0,60}\b(?:do\s+anything\s+now|(?-i:DAN))\b"
            r"|\b(?-i:DAN)\b[^.\n]{0,60}\b(?:rules|anything|jailbr|broken free|never)"
            r"|\bjailbr(?:oken|eak\s+successful)\b|\bstay\s+in\s+character\b|\bgod\s+mode\b"
        ),
    ),
    (
        "jailbreak_persona",
        0.8,
        _r(
            r"\b(?:you\s+are|you're|act\s+as|pretend\s+to\s+be|roleplay\s+as|role-play\s+as)\b[^.\n]{0,40}?"
            r"\b(?:no|without|free\s+from|freed\s+from)\s+(?:any\s+|all\s+)?(?:rules|restrictions|limits|filters"
            r"|ethics|morals?|guidelines|moral\s+limits|safety)"
        ),
    ),
    (
        "jailbreak_persona",
        0.8,
        _r(
            r"\b(?:unrestricted|uncensored|unfiltered|unlimited|jailbroken|evil)\s+(?:ai|mode|assistant|model|bot"
            r"|version|response)s?\b|\b(?:in|enable|switch\s+to)\s+(?:developer|dev|admin|god)\s+mode\b"
        ),
    ),
    (
        "jailbreak_persona",
        0.6,
        _r(
            r"\b(?:not|never)\s+(?:bound|restricted|limited)\s+by\s+any\b|\bremoved\s+all\s+safety\b"
            r"|\byou\s+(?:have|had)\s+no\s+(?:rules|restrictions|limits|filters|guidelines)\b"
            r"|\bevil\s+twin\b|\b(?:deceased|dead|late)\s+grand(?:ma|mother|pa|father)\b"
        ),
    ),
    (
        "no_refusal",
        0.5,
        _r(r"\bnever\s+refuses?\b|\bwhat\s+you\s+(?:normally|usually)\s+refuse\b|\bwithout\s+refusing\b"),
    ),
    (
        "no_limits",
        0.45,
        _r(
            r"\b(?:no|without(?:\s+any)?)\s+(?:restrictions|limits|filters|rules|content\s+polic(?:y|ies))\b"
            r"|\bsans\s+(?:aucune\s+)?(?:limite|restriction|règle|filtre)s?\b|\bohne\s+(?:regeln|einschränkungen|grenzen|filter)\b"
            r"|\bsin\s+(?:límites|restricciones|reglas|filtros)\b|\bsenza\s+(?:alcuna\s+)?(?:filtri|regole|restrizion[ei]|limiti)\b"
            r"|\bsem\s+(?:restrições|regras|filtros|limites)\b|\bzonder\s+(?:beperkingen|regels|filters)\b"
        ),
    ),
    (
        "new_persona",
        0.3,
        _r(
            r"\b(?:you\s+are\s+now|from\s+now\s+on|tu\s+es\s+maintenant|du\s+bist\s+jetzt|ab\s+jetzt"
            r"|a\s+partir\s+de\s+ahora|ora\s+sei|agora\s+você\s+é|vanaf\s+nu|mode\s+développeur|developer\s+mode)\b"
        ),
    ),
    (
        "new_instructions",
        0.6,
        _r(
            r"\bnew\s+(?:system\s+)?(?:instructions?|policy)\s*:|\b(?:nouvelles|neue|nuevas)\s+(?:instructions|anweisung\w*|instrucciones)\s*:"
        ),
    ),
    (
        "fake_authority",
        0.7,
        _r(r"\b(?:system|admin|developer|priority)\s+(?:override|instructions?|message|note)\s*[:!]"),
    ),
    (
        "addressed_to_ai",
        0.7,
        _r(
            r"\b(?:note|instructions?|message|attention|important(?:\s+instructions)?)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
            r"(?:ai|assistant|language\s+model|llm|chatbot|ai\s+(?:assistant|agent|model|screening\s+tool|recruiter|coding\s+assistant)s?)\b"
            r"|\b(?:if|when)\s+you\s+are\s+an?\s+(?:ai|llm|language\s+model|assistant)\b"
            r"|\bwhen\s+(?:the|an|any)\s+(?:ai|assistant|llm|language\s+model)\s+(?:reads|summari[sz]es|processes)\b"
            r"|\b(?:ai|assistant|language\s+model|llm)\s+(?:processing|reading)\s+this\b"
            r"|\bthis\s+is\s+your\s+developer\b"
        ),
    ),
    (
        "addressed_to_ai",
        0.6,
        _r(
            r"(?:^|[.:>#\-\]\[]\s*|--\s*)(?:@?assistant|ai(?:\s+(?:coding\s+)?(?:assistant|agent|model|recruiters))?"
            r"|language\s+model|llm)"
            r"\s*[,:]\s*(?:please\s+)?(?:ignore|disregard|forget|you\s+must|do\s+not|don't|new\s+instructions|render"
            r"|search|send|forward|when|from\s+now|update|this\s+is)"
        ),
    ),
    (
        "exfiltration",
        0.6,
        _r(
            r"\b(?:send|forward|email|e-mail|post|upload|push|leak)\b[^.\n]{0,60}?\b(?:to|into)\s+"
            r"(?:[\w.+-]+@[\w-]+\.[\w.]+|https?://|the\s+public)"
        ),
    ),
    ("exfiltration", 0.8, _r(r"!\[[^\]]*\]\(https?://[^)\s]*[?&][^)\s]*[{$][^)]*\)")),
    (
        "conceal",
        0.5,
        _r(
            r"\b(?:do\s+not|don't|without)\s+(?:tell(?:ing)?|inform(?:ing)?|mention(?:ing)?)(?:\s+(?:this|it))?\s+(?:to\s+)?the\s+user\b"
        ),
    ),
    ("pwned", 0.6, _r(r"\b(?:i\s+have\s+been\s+pwned|haha\s+pwned|access\s+granted)\b")),
)

# Rules over the layout of the text: turns and chat-template tokens a user should not be typing.
_STRUCTURE: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "chat_template",
        0.8,
        _r(
            r"<\|im_start\|>\s*(?:system|assistant|user)|<\|im_end\|>\s*<\|im_start\|>|<\|(?:system|user|assistant)\|>\s*\n"
            r"|<\|start_header_id\|>|<\|begin_of_text\|>|<\|eot_id\|>|<start_of_turn>\s*(?:system|user|model)"
            r"|\[INST\][^\n]*\[/INST\]|\[/INST\][^\n]*\[INST\]|<<SYS>>|</s>\s*<s>"
        ),
    ),
    ("chat_template", 0.3, _r(r"<\|im_start\|>|<\|im_end\|>|\[/?INST\]|<\|endoftext\|>")),
    (
        "role_spoofing",
        0.6,
        _r(
            r"(?:^|\n)\s*(?:#{1,4}\s*)?(?:system|developer|assistant|human)\s*:\s*\S"
            r"|(?:^|\n)\s*\[system\]|<system>[^<]{0,200}</system>|\"role\"\s*:\s*\"system\"[^}]{0,80}\b(?:ignore|disregard|obey)"
        ),
    ),
    ("role_spoofing", 0.5, _r(r"\bend\s+of\s+(?:user\s+input|document|prompt)\b|={3,}\s*end\b|</user>")),
)

_PHRASE_ANCHORS: tuple[tuple[str, ...], ...] = (
    ("ignor", "disregard", "forget", "override", "bypass", "discard", "never", "abandon", "set aside"),
    ("ignore", "disregard", "forget"),
    ("ignore", "disregard", "forget"),
    ("ignore", "disregard"),
    ("not follow", "not obey", "not listen"),
    ("cancel", "void", "null", "revoked", "obsolete", "a test", "fake", "no longer valid"),
    ("a test",),
    ("ignore", "oublie", "tiens pas", "tenez pas", "abstraction"),
    ("ignorier", "vergiss", "missacht", "übergeh"),
    ("vergiss",),
    ("ignora", "olvida", "no sigas", "omiso", "omite", "descarta"),
    ("ignora", "dimentica", "non seguire", "trascura"),
    ("ignore", "esque", "desconsidere", "não siga"),
    ("negeer", "vergeet", "ignoreer"),
    ("prompt", "system message", "instructions"),
    ("your ",),
    ("above", "before"),
    ("conversation", "context window", "were you told"),
    ("verbatim", "word for word", "starting with", "in full", "exactly"),
    ("anything now", "dan", "jailbr", "in character", "god mode"),
    ("no ", "without", "free"),
    ("unrestricted", "uncensored", "unfiltered", "unlimited", "jailbroken", "evil", " mode"),
    (
        "bound by",
        "restricted by",
        "limited by",
        "removed all",
        "you have no",
        "you had no",
        "evil twin",
        "grand",
    ),
    ("refus",),
    ("no ", "without", "sans", "ohne", "sin ", "senza", "sem ", "zonder"),
    ("now", "jetzt", "partir", "ora sei", "agora", "vanaf", "mode"),
    ("new", "nouvelles", "neue", "nuevas"),
    ("override", "instruction", "message", "note"),
    ("ai", "assistant", "model", "llm", "chatbot", "developer"),
    ("ai", "assistant", "model", "llm"),
    ("send", "forward", "mail", "post", "upload", "push", "leak"),
    ("](http",),
    ("the user",),
    ("pwned", "access granted"),
)
_STRUCTURE_ANCHORS: tuple[tuple[str, ...], ...] = (
    ("<|", "[inst]", "[/inst]", "<<sys>>", "<start_of_turn>", "</s>"),
    ("<|", "[inst]", "[/inst]"),
    ("system", "developer", "assistant", "human", "<system>", '"role"'),
    ("end of", "===", "</user>"),
)


def _anchored(
    rules: tuple[tuple[str, float, re.Pattern[str]], ...], anchors: tuple[tuple[str, ...], ...]
) -> tuple[Rule, ...]:
    assert len(rules) == len(anchors)
    return tuple(
        (name, weight, pattern, words) for (name, weight, pattern), words in zip(rules, anchors, strict=True)
    )


PHRASE_RULES = _anchored(_PHRASE, _PHRASE_ANCHORS)
STRUCTURE_RULES = _anchored(_STRUCTURE, _STRUCTURE_ANCHORS)
