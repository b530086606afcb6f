"""Keyword or question: how a plain-word query is to be ranked.

Decides whether what was typed is a *keyword* query ("back pain", "lumbar
disc") or a *question* ("what helps with back pain?", a pasted message),
which words of a question carry its subject, and what it asks about (its
intent: treatment, causes, symptoms, ...).

* A query is a question when the person typed "?", starts with a question
  word, or has more than :data:`KEYWORD_MAX_WORDS` words. Keyword queries
  keep all-words-first ranking; questions are ranked by their content words.
* The content words are the words minus :data:`FUNCTION_WORDS` (pronouns,
  auxiliaries, question words, politeness and chat) and minus the
  :data:`ASKING_PHRASES` ("come back", "lead to"): those say how a person
  asks, not what about, and must not decide the ranking. What is left is
  weighed by the index (BM25F: rarer words weigh more); a long message keeps
  its :data:`QUESTION_MAX_WORDS` rarest words, and leaves out a word most
  articles use when it has enough rarer ones (:func:`rarest_words`).
* The intent comes from cue words and phrases ("how do I get rid of",
  "cure", "treat" -> treatment). Many KBs title their articles as questions
  ("What are the treatments for X?"); an article whose *title* names the
  intent gets a bonus on top of its match of the subject, never instead.
"""

from __future__ import annotations

import re
from typing import NamedTuple

KEYWORD_MAX_WORDS = 4
QUESTION_MAX_WORDS = 12  # a long message is searched by its rarest content words
# A word in more than this share of the articles is left out of a question
# that has MIN_RARER_WORDS rarer words (a long message, not a short question:
# in "can liver cancer be detected?" every word counts).
COMMON_SHARE = 0.1
MIN_RARER_WORDS = 4
QUESTION_STARTS = frozenset(
    "what whats how why when where who whom whose which is are am was were do does did can could "
    "should would will shall may might has have had".split()
)
# Words that carry how something is asked, not what it is about. Medical
# words never belong here, however common (pain, disease, treatment).
FUNCTION_WORDS = frozenset(
    """
    a about above after again against all also am an and any anybody anyone anything are aren around as at
    be became because been before being below besides between both but by can cannot cant could couldn
    did didn do does doesn doing don done down during each either else even ever every everything
    few for from further get gets getting go goes going got gotten had hadn has hasn have haven having he
    her here hers herself him himself his how however i id if im in into is isn it its itself ive just
    let lets like ll made make makes many may maybe me might mine more most much must my myself no nor
    not now of off often on once one only or other others our ours ourselves out over own per perhaps
    please quite rather re really said same say says see seem seems shall she should shouldn since so
    some someone something sometimes still such than that thats the their theirs them themselves then
    there these they thing things this those though through thus to too under until up upon us use
    used using ve very via was wasn way we well were weren what whats whatever when where whether which
    while who whom whose why will with within without won would wouldn yes yet you your yours yourself
    hi hello hey dear sir madam thanks thank regards sincerely greetings kindly anyone question questions
    ask asking asked answer know knowing wondering wonder wondered wanted want wants need needs tell
    told advise advice info information regarding concerning re fw fwd subject message
    find finding found
    """.split()
)
# Phrasal verbs that carry how a question is put, not its subject: each word
# alone may be a subject ("back" pain, "lead" poisoning), so they are left out
# only as the phrase ("can arrhythmia come back", "can hantavirus lead to death").
ASKING_PHRASES = tuple(tuple(phrase.split()) for phrase in (
    "come back", "comes back", "coming back", "came back", "go away", "goes away", "going away", "went away",
    "lead to", "leads to", "leading to", "led to", "find out", "look for", "looking for",
))


class Intent(NamedTuple):
    """What a question asks about a subject, and the title words that say it."""

    name: str
    cues: tuple[str, ...]  # words (stems match too) or phrases in the question
    title_words: tuple[str, ...]  # words in a title that name this intent


INTENTS = (
    Intent("treatment", ("treat", "treated", "treating", "treatment", "treatments", "cure", "cured", "cures",
                         "remedy", "remedies", "therapy", "therapies", "medication", "medications", "medicine",
                         "medicines", "drug", "drugs", "get rid of", "help with", "helps with", "relief",
                         "relieve", "manage", "managing", "heal", "fix"), ("treatment", "treatments", "therapy")),
    Intent("causes", ("cause", "causes", "caused", "causing", "why", "reason", "reasons", "trigger", "triggers"),
           ("causes", "cause")),
    Intent("symptoms", ("symptom", "symptoms", "sign", "signs", "feel like", "feels like"), ("symptoms", "signs")),
    Intent("prevention", ("prevent", "prevented", "prevention", "avoid", "avoiding", "stop getting"),
           ("prevent", "prevention")),
    Intent("diagnosis", ("diagnose", "diagnosed", "diagnosis", "test", "tests", "tested", "testing", "detect",
                         "screening"), ("diagnose", "diagnosis", "tests")),
    Intent("inheritance", ("inherited", "inherit", "hereditary", "genetic", "genetics", "run in families",
                           "runs in families", "runs in the family", "pass on", "passed down"),
           ("inherited", "genetic", "hereditary")),
    Intent("outlook", ("outlook", "prognosis", "life expectancy", "survival", "survive", "fatal", "die",
                       "dies", "dying", "death", "deadly", "lethal", "how long"), ("outlook", "prognosis")),
    Intent("risk", ("risk", "risks", "at risk", "chance", "chances", "likely"), ("risk",)),
    Intent("complications", ("complication", "complications", "side effects", "side effect"),
           ("complications",)),
    Intent("frequency", ("how many", "how common", "common is", "prevalence"), ("affected", "common")),
    Intent("research", ("research", "trial", "trials", "study", "studies", "new treatments"),
           ("research", "clinical trials")),
    Intent("diet", ("eat", "eating", "diet", "food", "foods", "nutrition"), ("eating", "diet", "nutrition")),
)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def is_question(words: list[str], question_mark: bool) -> bool:
    """Whether the plain words (as typed) read as a question or a message."""
    if not words:
        return False
    return question_mark or words[0].lower() in QUESTION_STARTS or len(words) > KEYWORD_MAX_WORDS


def content_words(words: list[str]) -> list[str]:
    """The words that say what the question is about, in order, once each."""
    seen: dict[str, None] = {}
    for word in _without_asking_phrases(words):
        folded = word.lower().replace("\u2019", "'")
        bare = folded.split("'")[0] if folded.endswith(("'s", "'t", "'m", "'re", "'ve", "'ll", "'d")) else folded
        if bare in FUNCTION_WORDS or folded in FUNCTION_WORDS or len(bare) < 2:
            continue
        seen.setdefault(word, None)
    return list(seen)


def _without_asking_phrases(words: list[str]) -> list[str]:
    """``words`` minus each occurrence of an :data:`ASKING_PHRASES` phrase."""
    folded = [word.lower() for word in words]
    dropped: set[int] = set()
    for start, word in enumerate(folded):
        for phrase in ASKING_PHRASES:
            if word == phrase[0] and tuple(folded[start:start + len(phrase)]) == phrase:
                dropped.update(range(start, start + len(phrase)))
    return [word for n, word in enumerate(words) if n not in dropped] if dropped else words


def rarest_words(words: list[str], doc_frequency, limit: int | None = None, doc_count: int = 0) -> list[str]:
    """The words to search, in the order typed: at most ``limit``, the
    rarest first. A pasted message of 150 words is searched by what sets it
    apart: common words add little to BM25F and much to the time taken.

    With ``doc_count`` (the KB's articles), a word used by more than
    :data:`COMMON_SHARE` of them is left out when :data:`MIN_RARER_WORDS`
    rarer words remain: it barely tells one article from another (its IDF
    is small), yet scoring it visits that share of the whole KB."""
    limit = limit or QUESTION_MAX_WORDS
    counts = {word: doc_frequency(word) for word in words}
    if doc_count:
        rarer = [w for w in words if 0 < counts[w] <= COMMON_SHARE * doc_count]
        if len(rarer) >= MIN_RARER_WORDS:
            words = [w for w in words if counts[w] <= COMMON_SHARE * doc_count]
    if len(words) <= limit:
        return words
    # Words no article uses come last (the rescue may still correct them).
    keep = set(sorted(words, key=lambda w: (counts[w] == 0, counts[w]))[:limit])
    return [w for w in words if w in keep]


def intents_of(text: str) -> list[Intent]:
    """The intents whose cue words or phrases occur in ``text``."""
    folded = " " + " ".join(_WORD.findall(text.lower())) + " "
    return [intent for intent in INTENTS if any(f" {cue} " in folded for cue in intent.cues)]
