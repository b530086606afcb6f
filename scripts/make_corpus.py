#!/usr/bin/env python3
"""Synthetic corpus generator for the benchmark (scripts/bench.py) and for tests.

Owns: writing N articles in the seed format of SPEC §1 (body on one line ending
" |", a `<<:`/`>>:` chain, 17 teasers), deterministic for (N, seed).

    python scripts/make_corpus.py 10000 /tmp/corpus --seed 1

The text is made of a fixed vocabulary, ranked and sampled with a Zipf law:
about 100 real English function words on top (so stop-word handling is
realistic), 40,000 pseudo-words built from syllables, and some 200 real health
terms at middle ranks. Each article is about one health term, which its title
names and its body repeats a few times. Titles are unique (also after SPEC
§2's normalisation), file names are their slugs, in ten topic folders.

Speed: the sampler draws 16-bit numbers with `randbytes` and maps them through
lookup tables with `itemgetter`, so no Python loop runs per word (about 4x
faster than `random.choices`); rare words go through a second table, spliced
in with str.split/join. Memory: only titles and openings (first sentence) of
all articles are kept; bodies are written as they are made.
Stdlib only. Byte-identical output needs a little-endian machine (the 16-bit
draws use native byte order).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

TEASERS_PER_ARTICLE = 17
TEASER_CHARS = 49
MISSING_TEASER_SHARE = 0.03  # teasers that point at articles not in the corpus
BODY_WORDS = (300, 1500, 420)  # min, max, mode of a triangular law -> ~5.7 KB files
PSEUDO_WORD_COUNT = 40_000
ZIPF_EXPONENT = 1.0
TABLE_SIZE = 1 << 16  # one 16-bit draw per token
SENTENCE_END_SHARE = 1 / 15  # "." tokens: sentences of ~14 words
COMMA_SHARE = 1 / 22
TAIL_MARK = "\x00"  # placeholder for a rare word, resolved through the tail table
VOCABULARY_SEED = "healthkb-corpus-vocabulary-v1"  # the "language" is fixed

# Ten topic folders, twenty real health terms each (these become middle-rank
# words of the vocabulary, and the subject of the articles of that folder).
TOPICS = {
    "back-and-joints": "lumbar herniation sciatica vertebra scoliosis arthritis osteoporosis"
    " cartilage tendinitis bursitis spondylosis ligament meniscus fracture gout"
    " rheumatism kyphosis lordosis osteoarthritis effusion",
    "sleep": "insomnia apnea narcolepsy melatonin snoring drowsiness nightmares sleepwalking"
    " circadian bruxism hypersomnia parasomnia restlessness fatigue jetlag sedatives"
    " napping chronotype wakefulness dreaming",
    "heart-and-blood": "hypertension arrhythmia cholesterol angina thrombosis anemia"
    " atherosclerosis palpitations tachycardia bradycardia embolism stroke aneurysm"
    " varicose hemoglobin triglycerides myocarditis infarction hypotension leukemia",
    "cancer": "carcinoma melanoma lymphoma sarcoma osteosarcoma metastasis chemotherapy"
    " radiotherapy tumor biopsy malignancy nasopharyngeal oncology mammography"
    " leukocytes remission adenoma glioma myeloma mesothelioma",
    "digestion": "gastritis reflux constipation diarrhea colitis hemorrhoids cirrhosis"
    " hepatitis pancreatitis appendicitis gallstones ulcer bloating dyspepsia celiac"
    " dysbiosis colonoscopy jaundice nausea flatulence",
    "skin-and-hair": "eczema psoriasis acne dermatitis alopecia dandruff rosacea vitiligo"
    " urticaria keratosis blisters calluses hives folliculitis impetigo scabies warts"
    " freckles sunburn moles",
    "mind-and-nerves": "anxiety depression dementia migraine epilepsy neuropathy vertigo"
    " tinnitus concussion schizophrenia bipolar autism phobia panic stress alzheimer"
    " parkinson neuralgia meningitis amnesia",
    "nutrition": "vitamins calcium magnesium potassium protein fiber obesity diabetes"
    " glucose insulin ketosis probiotics antioxidants zinc folate malnutrition sodium"
    " omega carbohydrates dehydration",
    "children": "measles chickenpox mumps rubella colic teething croup bronchiolitis"
    " tonsillitis otitis vaccination rickets pertussis diphtheria enuresis adenoids"
    " thrush pinworms rotavirus hydrocephalus",
    "women": "pregnancy menopause endometriosis menstruation ovulation mastitis osteopenia"
    " preeclampsia fibroids contraception infertility cervical ovarian uterine"
    " lactation postpartum cystitis candidiasis hysterectomy miscarriage",
}
TOPIC_TERMS = {folder: terms.split() for folder, terms in TOPICS.items()}
HEALTH_TERMS = [term for terms in TOPIC_TERMS.values() for term in terms]

# Roughly in order of frequency; includes every Whoosh stop word.
FUNCTION_WORDS = (
    "the of and to a in is it that for you with as on be are this can not or by at"
    " from have your but will if more so when they which their also there some all"
    " one been has was should other many very such after into may than them its"
    " these most about only time people body often even because while well need"
    " like do does make help each every long day both before who what how through"
    " less blood cause pain use first two three daily take much same good we us"
    " an yet tbd our out up any over just then those here where why new own"
).split()
# A few non-ASCII and numeric tokens, so accent folding and odd tokens get exercised.
ODD_WORDS = ["café", "purée", "naïve", "don’t", "it’s", "1.5", "20", "10", "30", "12"]

ACTIVITIES = (
    "walking backwards|swimming|cycling|yoga|running|stretching|lifting weights|dancing"
    "|hiking|sitting all day|standing at work|gardening|skipping rope|climbing stairs"
    "|tai chi|sleeping on the floor|fasting|sauna bathing|cold showers|massage"
).split("|")
FOODS = (
    "red wine|green tea|coffee|honey|garlic|ginger|bananas|eggs|spicy food|dark chocolate"
    "|milk|oats|walnuts|tomatoes|hairy crabs|seaweed|rice porridge|soy milk|pickles"
    "|citrus fruit|lamb|spinach"
).split("|")
GROUPS = (
    "children|older adults|pregnant women|office workers|athletes|teenagers|new mothers"
    "|smokers|night shift workers|students|men over fifty|vegetarians|drivers|runners"
).split("|")
BODY_PARTS = (
    "lower back|neck|knee|shoulder|liver|stomach|skin|scalp|eyes|heart|lungs|kidneys"
    "|wrist|ankle|hip|jaw|throat|chest|feet|bladder"
).split("|")
# {t}: the article's term, {u}: another term of the same topic, {w}: a pseudo-word.
TEMPLATES = [
    "Can {activity} relieve {t}?", "What causes {t}?", "Early signs of {t} in {group}",
    "Is {t} dangerous for {group}?", "{T}: what {group} should know",
    "Why does {t} get worse at night?", "Can I eat {food} if I have {t}?",
    "How long does {t} take to heal?", "{Food} and {t}: myth or fact?",
    "Does {t} run in families?", "When to see a doctor about {t} in the {part}",
    "What is the difference between {t} and {u}?", "Is {activity} safe with {t}?",
    "How {group} can prevent {t}", "{T} and the {part}: symptoms and care",
    "Can {t} affect the {part}?", "Why {group} get {t} more often",
    "Does {food} help with {t}?", "What to eat after {t} when you love {food}",
    "Simple home care for {t} in the {part}", "Does {t} hurt the {part}?",
    "Is {t} contagious among {group}?", "How is {t} diagnosed in {group}?",
    "Can {t} come back after {activity}?", "Living with {t} and {u}",
    "Should you stop {activity} with {t}?", "{T} after {activity}: a guide for {group}",
]
WORD_TEMPLATES = [  # fallbacks once the plain combinations start to collide
    "Does the {w} method help {t}?", "What {w} means for {t} in {group}",
    "{W} and {t}: what the studies say", "Is {w} linked to {t} of the {part}?",
]


@dataclass(slots=True)
class PlannedArticle:
    """What must be known about every article before any file is written."""
    folder: str
    slug: str
    title: str
    term: str
    opening: str  # the first sentence(s) of the body, >= TEASER_CHARS long


def normalise(text: str) -> str:
    """Title/teaser key close to SPEC §2 (case and punctuation ignored)."""
    return re.sub(r"[\W_]+", "", text.casefold())


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _pseudo_words(count: int, taken: set[str]) -> list[str]:
    """Pronounceable made-up words, shorter at the top ranks like real words."""
    rng = random.Random(VOCABULARY_SEED)
    # Single consonants and open syllables dominate, as in real words.
    onsets = "b c d f g h j k l m n p r s t v w z b d l m n p r s t br ch dr gr pl st th tr".split()
    onsets.append("")
    vowels = "a e i o u a e i o u ai ea ou".split()
    codas = ["", "", "", "", "", "n", "r", "l", "s", "m", "t", "nd", "st"]
    words: list[str] = []
    while len(words) < count:
        rank = len(words)
        low, high = (1, 2) if rank < 400 else (2, 2) if rank < 6000 else (2, 3)
        word = "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
            for _ in range(rng.randint(low, high))
        )
        if len(word) >= 3 and word not in taken:
            taken.add(word)
            words.append(word)
    return words


@lru_cache(maxsize=1)
def vocabulary() -> tuple[str, ...]:
    """All words in rank order (rank 0 is the most frequent)."""
    taken = set(FUNCTION_WORDS) | set(HEALTH_TERMS) | set(ODD_WORDS)
    ranked = list(FUNCTION_WORDS) + _pseudo_words(PSEUDO_WORD_COUNT, taken)
    # Health terms at middle ranks, spread geometrically from ~300 to ~9,000 so
    # some are common and some rare; the odd tokens a bit higher up.
    spots = [int(300 * 30 ** (k / len(HEALTH_TERMS))) for k in range(len(HEALTH_TERMS))]
    insertions = sorted(zip(spots, HEALTH_TERMS)) + [(150 + 180 * k, w) for k, w in enumerate(ODD_WORDS)]
    for offset, (rank, word) in enumerate(sorted(insertions)):
        ranked.insert(rank + offset, word)
    return tuple(ranked)


def _lookup_table(words: list[str], weights: list[float], size: int) -> list[str]:
    """`size` slots, each word at least once, the rest shared by weight."""
    total = sum(weights)
    spare = size - len(words)
    counts = [1 + int(spare * w / total) for w in weights]
    remainder = size - sum(counts)
    order = sorted(range(len(words)), key=lambda k: -((spare * weights[k] / total) % 1))
    for k in order[:remainder]:
        counts[k] += 1
    table: list[str] = []
    for word, count in zip(words, counts):
        table.extend([word] * count)
    return table


class ProseGenerator:
    """Draws Zipf-distributed prose with sentences, commas and capitals."""

    def __init__(self) -> None:
        words = list(vocabulary())
        weights = [1.0 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(words))]
        word_slots = TABLE_SIZE - int(TABLE_SIZE * SENTENCE_END_SHARE) - int(TABLE_SIZE * COMMA_SHARE)
        total = sum(weights)
        # Head: words frequent enough to own at least one slot of the main table.
        head = sum(1 for w in weights if w / total * word_slots >= 1.0)
        tail_share = sum(weights[head:]) / total
        self.main = _lookup_table(
            words[:head] + [TAIL_MARK, ".", ","],
            weights[:head] + [tail_share * total,
                              total * SENTENCE_END_SHARE / (1 - SENTENCE_END_SHARE - COMMA_SHARE),
                              total * COMMA_SHARE / (1 - SENTENCE_END_SHARE - COMMA_SHARE)],
            TABLE_SIZE,
        )
        self.tail = _lookup_table(words[head:], weights[head:], TABLE_SIZE)

    @staticmethod
    def _draw(rng: random.Random, table: list[str], count: int) -> list[str]:
        if count <= 0:
            return []
        picks = itemgetter(*memoryview(rng.randbytes(2 * count)).cast("H"))(table)
        return list(picks) if count > 1 else [picks]

    def prose(self, rng: random.Random, words: int, term: str = "", mentions: int = 0) -> str:
        """About `words` words of text; `term` replaces `mentions` random tokens."""
        tokens = self._draw(rng, self.main, round(words / (1 - SENTENCE_END_SHARE - COMMA_SHARE)) + 1)
        for _ in range(mentions):
            tokens[rng.randrange(len(tokens))] = term
        text = " ".join(tokens)
        if TAIL_MARK in text:
            parts = text.split(TAIL_MARK)
            spliced = [""] * (2 * len(parts) - 1)
            spliced[::2] = parts
            spliced[1::2] = self._draw(rng, self.tail, len(parts) - 1)
            text = "".join(spliced)
        text = text.replace(" ,", ",").replace(" .", ".")
        previous = None
        while previous != text:  # collapse ".." ",," ",." ".," left by adjacent marks
            previous = text
            text = text.replace(",.", ".").replace(".,", ".").replace("..", ".").replace(",,", ",")
        text = text.strip(" ,.")
        return ". ".join(map(str.capitalize, text.split(". "))) + "."


def _title(rng: random.Random, folder: str, term: str, fallback: bool) -> str:
    others = [t for t in TOPIC_TERMS[folder] if t != term]
    words = vocabulary()
    template = rng.choice(WORD_TEMPLATES if fallback else TEMPLATES)
    word = words[rng.randrange(2_000, len(words))]
    food = rng.choice(FOODS)
    title = template.format(
        t=term, T=term.capitalize(), u=rng.choice(others), activity=rng.choice(ACTIVITIES),
        group=rng.choice(GROUPS), part=rng.choice(BODY_PARTS), food=food,
        Food=food.capitalize(), w=word, W=word.capitalize(),
    )
    return title[0].upper() + title[1:]


def _opening(gen: ProseGenerator, rng: random.Random, taken: set[str]) -> str:
    """A first sentence whose teaser key no other article (or phantom) shares."""
    while True:
        opening = gen.prose(rng, rng.randint(12, 24))
        key = normalise(opening[:TEASER_CHARS])
        if len(opening) >= TEASER_CHARS + 8 and key not in taken:
            taken.add(key)
            return opening


# MedQuAD-shaped corpora (--shape medquad): answers there often open with
# the same boilerplate sentence, so thousands of teasers quote one text.
BOILERPLATE_OPENINGS = (
    "These resources address the diagnosis or management of this condition and its complications.",
    "What are the signs and symptoms? The Human Phenotype Ontology provides the following list of signs.",
    "Summary: this information comes from a reference collection of genetic and rare diseases.",
)
SHAPES = {"plain": 0.0, "medquad": 0.3}  # share of articles opening with boilerplate


def plan_corpus(count: int, seed: int, gen: ProseGenerator, boilerplate: float = 0.0
                ) -> tuple[list[PlannedArticle], set[str]]:
    """Topic, unique title/slug and opening of every article, deterministic;
    also the teaser keys in use (so phantom teasers can avoid them).  A
    ``boilerplate`` share of articles open with one of BOILERPLATE_OPENINGS."""
    folders = list(TOPIC_TERMS)
    titles_taken: set[str] = set()
    openings_taken: set[str] = set()
    planned = []
    for index in range(count):
        rng = random.Random(f"{seed}:{index}:plan")
        folder = rng.choice(folders)
        term = rng.choice(TOPIC_TERMS[folder])
        attempt = 0
        while True:
            title = _title(rng, folder, term, fallback=attempt >= 6)
            key = normalise(title)
            if key not in titles_taken:
                titles_taken.add(key)
                break
            attempt += 1
        if boilerplate and rng.random() < boilerplate:
            opening = rng.choice(BOILERPLATE_OPENINGS)
        else:
            opening = _opening(gen, rng, openings_taken)
        planned.append(PlannedArticle(folder, slugify(title), title, term, opening))
    return planned, openings_taken


def render_article(body: str, prev_title: str | None, next_title: str | None,
                   teasers: list[str]) -> str:
    """The file text in the seed's layout (no newline after the last line)."""
    lines = [body + " |"]
    if prev_title:
        lines.append("<<: " + prev_title)
    if next_title:
        lines.append(">>: " + next_title)
    lines.extend(teaser + "..." for teaser in teasers)
    return "\n".join(lines)


def chain_order(count: int, seed: int) -> list[int]:
    """Article indexes in `<<:`/`>>:` order (a seeded shuffle)."""
    order = list(range(count))
    random.Random(f"{seed}:chain").shuffle(order)
    return order


@dataclass
class CorpusSummary:
    articles: int
    bytes: int
    seconds: float
    teasers: int
    missing_teasers: int


def write_corpus(count: int, out_dir: Path, seed: int = 1, shape: str = "plain") -> CorpusSummary:
    """Write `count` articles under out_dir/<topic>/<slug>.txt."""
    started = time.perf_counter()
    gen = ProseGenerator()
    planned, openings_taken = plan_corpus(count, seed, gen, SHAPES[shape])
    order = chain_order(count, seed)
    neighbours: dict[int, tuple[str | None, str | None]] = {}
    for position, index in enumerate(order):
        prev_title = planned[order[position - 1]].title if position > 0 else None
        next_title = planned[order[position + 1]].title if position + 1 < count else None
        neighbours[index] = (prev_title, next_title)
    for folder in TOPIC_TERMS:
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    written = teasers_total = missing = 0
    for index, article in enumerate(planned):
        rng = random.Random(f"{seed}:{index}:body")
        words = int(rng.triangular(*BODY_WORDS))
        rest = gen.prose(rng, max(words - article.opening.count(" ") - 1, 10),
                         term=article.term, mentions=rng.randint(2, 8))
        others = [k for k in rng.sample(range(count), min(count, TEASERS_PER_ARTICLE + 1))
                  if k != index][:TEASERS_PER_ARTICLE]
        teasers = []
        for slot in range(TEASERS_PER_ARTICLE):
            if slot >= len(others) or rng.random() < MISSING_TEASER_SHARE:
                teasers.append(_opening(gen, rng, openings_taken)[:TEASER_CHARS])
                missing += 1
            else:
                teasers.append(planned[others[slot]].opening[:TEASER_CHARS])
        text = render_article(article.opening + " " + rest, *neighbours[index], teasers)
        data = text.encode("utf-8")
        (out_dir / article.folder / (article.slug + ".txt")).write_bytes(data)
        written += len(data)
        teasers_total += len(teasers)
    return CorpusSummary(count, written, time.perf_counter() - started, teasers_total, missing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, help="number of articles")
    parser.add_argument("directory", type=Path, help="output folder (new or empty)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="plain",
                        help="medquad: 30%% of articles open with one of three boilerplate sentences")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("count must be at least 1")
    if args.directory.exists() and any(args.directory.iterdir()):
        parser.error(f"{args.directory} is not empty; give a new or empty folder")
    summary = write_corpus(args.count, args.directory, args.seed, args.shape)
    print(f"make_corpus: {summary.articles} articles, {summary.bytes / 1e6:.1f} MB, "
          f"{summary.missing_teasers}/{summary.teasers} teasers to missing articles, "
          f"{summary.seconds:.1f} s -> {args.directory}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
