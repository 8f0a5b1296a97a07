"""The named patterns of the prompt-injection scanner, each with the weight of its evidence.

Weights are probabilities that one hit alone means an attack; the scanner combines the rules that
fire (``1 - prod(1 - w)``), so two weak signals together pass a threshold one alone does not. Each
rule has anchors, plain substrings one of which any match contains: a substring test is far cheaper
than a regular-expression scan, so most rules cost nothing on text that has none of their words.
"""

from __future__ import annotations

import re

from ._lazy_pattern import LazyPattern

__all__ = ["PHRASE_RULES", "Rule", "anchored"]

# (name, weight, pattern, anchors): the pattern runs only on text whose lower case holds an anchor.
Rule = tuple[str, float, LazyPattern, tuple[str, ...]]

_I = re.IGNORECASE | re.MULTILINE


def _r(pattern: str) -> LazyPattern:
    return LazyPattern(pattern, _I)


_OBJECTS_EN = (
    r"(?:instructions?|prompts?|rules|directions|directives|guidelines|guidance|programming|restrictions"
    r"|polic(?:y|ies)|filters|constraints|training|guardrails|system message)"
)
_QUALIFIERS_EN = (
    r"(?:previous|prior|above|earlier|preceding|former|original|initial|old|system|developer|safety|your)"
)

# Rules over the words of the text (run on the text as written and on its folded forms).
_PHRASE: tuple[tuple[str, float, LazyPattern], ...] = (
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
            r"(?:cancell?ed|void|null|revoked|obsolete|a test|fake|no longer valid|superseded|invalid"
            r"|suspended|lifted)"
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
        _r(
            r"\b(?:verbatim|word\s+for\s+word|starting\s+with\s+the\s+phrase|in\s+full|exactly|line\s+by\s+line"
            r"|unchanged)\b|\bincluding\s+(?:the\s+)?hidden\b"
        ),
    ),
    (
        "jailbreak_persona",
        0.9,
        _r(
            r"\b(?:pretend|you\s+are|you're|act\s+as|be)\b[^.\n]{0,60}\b(?:do\s+anything\s+now|(?-i:DAN))\b"
            r"|\b(?-i:DAN)\b[^.\n]{0,60}\b(?:rules|anything|jailbr|broken free|never)"
            r"|\bjailbr(?:oken|eak\s+successful)\b|\bgod\s+mode\b"
        ),
    ),
    (
        "jailbreak_persona",
        0.8,
        _r(
            r"\b(?:you\s+are|you're|act\s+as|pretend\s+to\s+be|roleplay\s+as|role-play\s+as)\b[^.\n]{0,40}?"
            r"\b(?:no|zero|without|free\s+from|freed\s+from|never\s+given)\s+(?:any\s+|all\s+)?(?:rules|restrictions|limits|filters"
            r"|ethics|morals?|guidelines|moral\s+limits|safety)"
        ),
    ),
    (
        "jailbreak_persona",
        0.8,
        _r(
            r"\b(?:unrestricted|uncensored|unfiltered|unlimited|jailbroken|evil)\s+(?:ai|mode|assistant|model|bot"
            r"|version|response|alter\s+ego|twin|self|persona)s?\b"
            r"|\b(?:in|enable|switch\s+to|enter|activate|turn\s+on)\s+(?:developer|dev|admin|god|sudo)\s+mode\b"
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
            r"\b(?:no|zero|without(?:\s+any)?)\s+(?:restrictions|limits|filters|rules|content\s+polic(?:y|ies))\b"
            r"|\bsans\s+(?:aucune\s+)?(?:limite|restriction|règle|filtre)s?\b|\bohne\s+(?:regeln|einschränkungen|grenzen|filter)\b"
            r"|\bsin\s+(?:límites|restricciones|reglas|filtros)\b|\bsenza\s+(?:alcuna\s+)?(?:filtri|regole|restrizion[ei]|limiti)\b"
            r"|\bsem\s+(?:restrições|regras|filtros|limites)\b|\bzonder\s+(?:beperkingen|regels|filters)\b"
        ),
    ),
    (
        "new_persona",
        0.3,
        _r(
            r"\b(?:you\s+are\s+now|you(?:'re|\s+are)\b[^.\n]{0,30}\bnow|from\s+now\s+on|tu\s+es\s+maintenant|du\s+bist\s+jetzt|ab\s+jetzt"
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
            r"|search|send|forward|when|from\s+now|update|this\s+is|stop|tell|instead|only|always|reply|respond"
            r"|say|mark|include)"
        ),
    ),
    (
        "exfiltration",
        0.4,
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
    (
        "override",
        0.9,
        _r(
            r"\b(?:scrap|drop|ignore|disregard|forget|abandon|discard|stop\s+following|pay\s+no\s+attention\s+to)\b"
            r"[^.\n]{0,40}?\b(?:you\s+(?:were|have\s+been|'ve\s+been)\s+(?:told|given|set\s+up|instructed|programmed"
            r"|configured)|(?:gave|given\s+to)\s+you|you\s+(?:got|received)|at\s+the\s+start|from\s+before)"
        ),
    ),
    (
        "override",
        0.8,
        _r(
            rf"\b(?:{_OBJECTS_EN}|configuration|setup)\b[^.\n]{{0,25}}?\b(?:no\s+longer\s+apply|(?:don't|do\s+not"
            r"|doesn't|does\s+not)\s+apply|(?:is|are)\s+(?:now\s+)?(?:void|superseded|lifted|suspended|off))"
            rf"|\byour\s+{_OBJECTS_EN}\s+(?:are|is)\s+(?:now\s+)?(?:outdated|obsolete|wrong)\b"
            r"|\bconsider\b[^.\n]{0,40}\b(?:void|cancell?ed|obsolete)\b|\bsuperseded\s+by\s+(?:this|my)\b"
        ),
    ),
    (
        "override",
        0.8,
        _r(
            r"\b(?:act|pretend|imagine|behave)\s+(?:like|as\s+if|as\s+though|that)\s+(?:the|your|those|these)\s+"
            rf"(?:\w+\s+)?{_OBJECTS_EN}"
        ),
    ),
    ("override", 0.4, _r(r"\b(?:override|ignore|disregard|bypass)\s+(?:them|those|these)\b")),
    (
        "prompt_extraction",
        0.6,
        _r(
            r"\b(?:instructions|rules|prompt|configuration|text)\s+(?:that\s+)?(?:your|the)\s+developers?\s+"
            r"(?:wrote|gave|set|configured)|\b(?:were\s+you|you\s+were|you've\s+been|you\s+have\s+been)\s+"
            r"(?:configured|given|programmed|set\s+up|loaded|initiali[sz]ed)\s+with\b"
            r"|\b(?:preamble|system\s+instructions|initial\s+instructions|hidden\s+instructions)\b"
        ),
    ),
    ("stay_in_character", 0.4, _r(r"\bstay\s+in\s+character\b")),
    (
        "exfiltration",
        0.7,
        _r(
            r"\b(?:send|forward|email|e-mail|post|upload|push|leak)\b[^.\n]{0,40}?\b(?:all|every|entire|whole"
            r"|the\s+user'?s|conversation|chat\s+history|data|passwords?|files|documents?|mailbox|inbox"
            r"|env(?:ironment)?\s+var\w*|contents)\b[^.\n]{0,40}?\b(?:to|into)\s+"
            r"(?:[\w.+-]+@[\w-]+\.[\w.]+|https?://|the\s+public)"
        ),
    ),
    (
        "addressed_to_ai",
        0.7,
        _r(
            r"\bif\s+(?:an?|the|any)\s+(?:ai|assistant|llm|language\s+model|bot)\s+(?:is\s+)?(?:reading|processing"
            r"|summari[sz]ing|seeing)\b|\battention\s*[,:\-]?\s*(?:all\s+)?(?:ai|llm|assistant|language\s+model)s?\b"
            r"|\bto\s+the\s+(?:ai|assistant|language\s+model|llm|bot)\b[^.\n)]{0,40}:"
        ),
    ),
    (
        "disable_safety",
        0.6,
        _r(
            r"\b(?:disable|turn\s+off|switch\s+off|remove|deactivate)\s+(?:your|the|all)\s+(?:content\s+|safety\s+)?"
            r"(?:filters?|safety|guardrails|moderation|restrictions)\b"
        ),
    ),
    (
        "override_ja_zh",
        0.9,
        _r(
            r"(?:無視|忽略)[^。\n]{0,20}?(?:指示|指令|プロンプト|提示)|(?:指示|指令)[^。\n]{0,20}?(?:無視|忽略)"
        ),
    ),
    (
        "override_ru",
        0.9,
        _r(r"(?:игнорир\w*|забудь\w*|не\s+следуй\w*)[^.\n]{0,40}?(?:инструкц\w*|правил\w*|указани\w*)"),
    ),
)

_PHRASE_ANCHORS: tuple[tuple[str, ...], ...] = (
    ("ignor", "disregard", "forget", "override", "bypass", "discard", "never", "abandon", "set aside"),
    ("ignore", "disregard", "forget"),
    ("ignore", "disregard", "forget"),
    ("ignore", "disregard"),
    ("not follow", "not obey", "not listen"),
    (
        "cancel",
        "void",
        "null",
        "revoked",
        "obsolete",
        "a test",
        "fake",
        "no longer valid",
        "outdated",
        "superseded",
        "invalid",
        "suspended",
        "lifted",
    ),
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
    (
        "verbatim",
        "word for word",
        "starting with",
        "in full",
        "exactly",
        "line by line",
        "unchanged",
        "including",
    ),
    ("anything now", "dan", "jailbr", "in character", "god mode"),
    ("no ", "without", "free", "zero", "never given"),
    (
        "unrestricted",
        "uncensored",
        "unfiltered",
        "unlimited",
        "jailbroken",
        "evil",
        " mode",
        "alter ego",
        "twin",
        "self",
        "persona",
    ),
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
    ("no ", "zero", "without", "sans", "ohne", "sin ", "senza", "sem ", "zonder"),
    ("now", "jetzt", "partir", "ora sei", "agora", "vanaf", "mode"),
    ("new", "nouvelles", "neue", "nuevas"),
    ("override", "instruction", "message", "note"),
    ("ai", "assistant", "model", "llm", "chatbot", "developer"),
    ("ai", "assistant", "model", "llm"),
    ("send", "forward", "mail", "post", "upload", "push", "leak"),
    ("](http",),
    ("the user",),
    ("pwned", "access granted"),
    (
        "scrap",
        "drop",
        "ignor",
        "disregard",
        "forget",
        "abandon",
        "discard",
        "stop following",
        "pay no attention",
    ),
    ("apply", "void", "superseded", "lifted", "suspended", " off", "outdated", "cancel", "obsolete"),
    ("act", "pretend", "imagine", "behave"),
    ("override", "ignore", "disregard", "bypass"),
    (
        "developer",
        "configured",
        "given",
        "programmed",
        "set up",
        "loaded",
        "initiali",
        "preamble",
        "instructions",
    ),
    ("in character",),
    ("send", "forward", "mail", "post", "upload", "push", "leak"),
    ("ai", "assistant", "llm", "language model", "bot"),
    ("disable", "turn off", "switch off", "remove", "deactivate"),
    ("無視", "忽略"),
    ("игнор", "забуд", "не след"),
)


def anchored(
    rules: tuple[tuple[str, float, LazyPattern], ...], anchors: tuple[tuple[str, ...], ...]
) -> tuple[Rule, ...]:
    assert len(rules) == len(anchors)
    return tuple(
        (name, weight, pattern, words) for (name, weight, pattern), words in zip(rules, anchors, strict=True)
    )


PHRASE_RULES = anchored(_PHRASE, _PHRASE_ANCHORS)
