"""The understanding step: clean, lemmatise, then run ordered stages (sector, tone, kind, aggression, places).

Stages live in one ordered mapping, name → order number (as scrapy middlewares do), so a deployment can
drop one (`stages={"places": None}`), move one, or add its own after `register_stage`:

    DEFAULT_STAGES = {"lemmas": 100, "sector": 300, "tone": 400, "kind": 500,
                      "aggression": 600, "places": 700, "review": 900}

A stage gets a batch of Contexts and writes Post field updates into `ctx.out`. A stage that fails on a
batch is retried post by post; a post that still fails keeps that stage's defaults, and the rest of the
batch goes on. Texts are cut to risk.text.MAX_TEXT_CHARS, so a 1 MB post costs about as much as a long one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from index.models import Kind, Post, Tone
from index.profile import Profile
from risk.aggression import AggressionScorer
from risk.embedding import EmbeddingUnavailable
from risk.kinds import KindClassifier
from risk.ner import one_blas_thread, tag
from risk.places import Gazetteer, needs_ner, ner_places
from risk.sectors import REVIEW_THRESHOLD, SECTORS, TOPIC_GROUPS, LexiconSectorModel
from risk.text import Doc, analyse
from risk.tone import NEGATIVE_THRESHOLD, POSITIVE_THRESHOLD, ToneScorer
from risk.trained import TrainedModels, aggression_from_proba, tone_from_proba

log = logging.getLogger(__name__)

#: The default stages and their order; lower runs first.
DEFAULT_STAGES: dict[str, int] = {
    "lemmas": 100,
    "sector": 300,
    "tone": 400,
    "kind": 500,
    "aggression": 600,
    "places": 700,
    "review": 900,
}
#: Kinds of message whose places matter (they may need an answer), so NER runs on them when needed.
NER_KINDS = frozenset({Kind.complaint, Kind.question, Kind.suggestion})
#: Sources whose items are news articles (information unless they carry a complaint anyway).
NEWS_SOURCES = frozenset({"web"})
#: Sources whose every text is an appeal to the municipality (the portal ПОС, «Инцидент Менеджмент»):
#: their sectors use the lexicon's appeals mode (prior for ЖКХ and the yard, ЖКХ for review if nothing fires).
APPEAL_SOURCES = frozenset({"pos", "im"})
#: A trained topics model's calibrated probability below this flags the post for a human.
TRAINED_REVIEW_THRESHOLD = 0.5
#: A complaint's tone score is at most this (a neutral-worded complaint is still a negative message).
COMPLAINT_TONE_CAP = -0.3


@dataclass(slots=True)
class Context:
    """One post under way: the input, its analysed text and the field updates so far."""

    post: Post
    doc: Doc
    out: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)  # between stages, not Post fields


Stage = Callable[[list[Context]], None]
StageBuilder = Callable[["Understander"], Stage]
#: Stage name → builder; filled by `register_stage`.
STAGE_BUILDERS: dict[str, StageBuilder] = {}


def register_stage(name: str) -> Callable[[StageBuilder], StageBuilder]:
    """Register a stage builder under `name`; raise ValueError on a duplicate name."""

    def deco(builder: StageBuilder) -> StageBuilder:
        if name in STAGE_BUILDERS:
            raise ValueError(f"стадия {name!r} уже зарегистрирована")
        STAGE_BUILDERS[name] = builder
        return builder

    return deco


def _defaults() -> dict[str, Any]:
    """Return the understanding fields of a post with nothing understood."""
    return {
        "lemmas": "",
        "sector": None,
        "topic": None,
        "sector_confidence": 0.0,
        "kind": Kind.information,
        "tone": Tone.neutral,
        "tone_score": 0.0,
        "aggression": 0.0,
        "aggression_markers": [],
        "places": [],
        "territory": None,
        "needs_review": False,
    }


class Understander:
    """Enrich posts with lemmas, sector/topic, kind, tone, aggression and places."""

    def __init__(
        self,
        profile: Profile | None = None,
        model: TrainedModels | None = None,
        *,
        stages: Mapping[str, int | None] | None = None,
        ner: bool = True,
        appeals: bool = False,
    ) -> None:
        """Build the lexicons, the gazetteer and the stages once; `stages` overrides DEFAULT_STAGES.

        `ner`: find places the gazetteer misses with natasha's NER (loaded on first use; off if absent).
        `appeals`: every text is an appeal to the municipality (a portal's or hotline's export), as the
        posts of APPEAL_SOURCES always are.
        """
        self.profile = profile
        self.use_ner = ner
        self.model = model if model else None
        self.appeals = appeals
        self.sectors = LexiconSectorModel(appeals=appeals)
        self._appeal_sectors: LexiconSectorModel | None = self.sectors if appeals else None
        self.tone = ToneScorer()
        self.kinds = KindClassifier()
        self.aggression = AggressionScorer(officials=profile.officials if profile else ())
        self.gazetteer = Gazetteer(profile)
        order = dict(DEFAULT_STAGES)
        for name, pos in (stages or {}).items():
            if pos is None:
                order.pop(name, None)
            else:
                order[name] = pos
        unknown = sorted(set(order) - set(STAGE_BUILDERS))
        if unknown:
            raise ValueError(f"неизвестные стадии понимания: {', '.join(unknown)}")
        self.stage_order: list[str] = sorted(order, key=lambda n: (order[n], n))
        self._stages: list[tuple[str, Stage]] = [(n, STAGE_BUILDERS[n](self)) for n in self.stage_order]

    def sector_model(self, source: str) -> LexiconSectorModel:
        """Return the lexicon sector model for a post of `source` (appeals mode for APPEAL_SOURCES)."""
        if source not in APPEAL_SOURCES:
            return self.sectors
        if self._appeal_sectors is None:
            self._appeal_sectors = LexiconSectorModel(appeals=True)
        return self._appeal_sectors

    def understand(self, post: Post) -> Post:
        """Return an enriched copy of one post (never raises for bad text)."""
        return self.understand_many([post])[0]

    def understand_many(self, posts: Sequence[Post]) -> list[Post]:
        """Return enriched copies of posts, in order; one bad post never stops the batch."""
        ctxs = [self._context(p) for p in posts]
        with one_blas_thread():  # processes give the parallelism; BLAS threads only spin on small batches
            for name, stage in self._stages:
                try:
                    stage(ctxs)
                except Exception:
                    log.exception(
                        "стадия %s упала на пакете из %d сообщений, повтор по одному", name, len(ctxs)
                    )
                    for ctx in ctxs:
                        try:
                            stage([ctx])
                        except Exception:
                            log.exception("стадия %s упала на сообщении %s", name, ctx.post.id)
        return [ctx.post.model_copy(update=ctx.out) for ctx in ctxs]

    @staticmethod
    def _context(post: Post) -> Context:
        """Return a Context with the analysed text and default fields (an empty Doc if analysis fails)."""
        try:
            doc = analyse(post.text or "")
        except Exception:
            log.exception("не удалось разобрать текст сообщения %s", post.id)
            doc = Doc(text="")
        return Context(post=post, doc=doc, out=_defaults())


@register_stage("lemmas")
def _lemmas_stage(u: Understander) -> Stage:
    """Set the space-joined content lemmas."""

    def run(ctxs: list[Context]) -> None:
        for ctx in ctxs:
            ctx.out["lemmas"] = " ".join(ctx.doc.content_lemmas())

    return run


@register_stage("sector")
def _sector_stage(u: Understander) -> Stage:
    """Set sector, topic and confidence from the trained topics model if any, else from the lexicon."""

    def run(ctxs: list[Context]) -> None:
        todo = [c for c in ctxs if c.doc.words]
        model = u.model.topics if u.model else None
        if model is None:
            for ctx in todo:
                res = u.sector_model(ctx.post.source).predict(ctx.doc)
                ctx.out.update(sector=res.sector, topic=res.topic, sector_confidence=res.confidence)
            return
        if not todo:
            return
        texts = [c.doc.text for c in todo]
        for ctx, (label, prob) in zip(todo, model.predict(texts, [c.doc for c in todo]), strict=True):
            topic: str | None
            if label in TOPIC_GROUPS:
                sector, topic = TOPIC_GROUPS[label], label
            elif label in SECTORS:
                sector, topic = label, u.sectors.topic_in_group(ctx.doc, label)
            else:  # the centre's own taxonomy: keep its label as the sector
                sector, topic = label, None
            ctx.out.update(sector=sector, topic=topic, sector_confidence=round(prob, 4))
            ctx.notes["trained_sector"] = True

    return run


@register_stage("tone")
def _tone_stage(u: Understander) -> Stage:
    """Set tone and tone_score from the trained tone model if any, else from the lexicon and emoji."""

    def run(ctxs: list[Context]) -> None:
        model = u.model.tone if u.model else None
        if model is None:
            for ctx in ctxs:
                res = u.tone.score(ctx.doc)
                ctx.out.update(tone=res.tone, tone_score=res.score)
            return
        todo = [c for c in ctxs if c.doc.words]
        if not todo:
            return
        proba = model.predict_proba([c.doc.text for c in todo], [c.doc for c in todo])
        for ctx, row in zip(todo, proba, strict=True):
            tone, score = tone_from_proba(model, row)
            ctx.out.update(tone=tone, tone_score=score)

    return run


@register_stage("kind")
def _kind_stage(u: Understander) -> Stage:
    """Set kind; a complaint's tone is made negative when the words alone looked neutral."""

    def run(ctxs: list[Context]) -> None:
        for ctx in ctxs:
            res = u.kinds.classify(
                ctx.doc,
                is_official=ctx.post.is_official or ctx.post.source in NEWS_SOURCES,
                has_sector=ctx.out.get("sector") is not None,
                tone_score=float(ctx.out.get("tone_score", 0.0)),
            )
            ctx.out["kind"] = res.kind
            if res.kind is Kind.complaint and float(ctx.out.get("tone_score", 0.0)) < POSITIVE_THRESHOLD:
                score = min(float(ctx.out.get("tone_score", 0.0)), COMPLAINT_TONE_CAP)
                ctx.out.update(
                    tone=Tone.negative if score <= NEGATIVE_THRESHOLD else Tone.neutral, tone_score=score
                )

    return run


@register_stage("aggression")
def _aggression_stage(u: Understander) -> Stage:
    """Set aggression (trained model if any, else lexicon) and the lexicon's named markers."""

    def run(ctxs: list[Context]) -> None:
        for ctx in ctxs:
            res = u.aggression.score(ctx.doc, tone_score=float(ctx.out.get("tone_score", 0.0)))
            ctx.out.update(aggression=res.score, aggression_markers=res.markers)
        model = u.model.aggression if u.model else None
        todo = [c for c in ctxs if c.doc.words]
        if model is None or not todo:
            return
        proba = model.predict_proba([c.doc.text for c in todo], [c.doc for c in todo])
        for ctx, row in zip(todo, proba, strict=True):
            ctx.out["aggression"] = aggression_from_proba(model, row)

    return run


@register_stage("places")
def _places_stage(u: Understander) -> Stage:
    """Set places and the territory from the gazetteer; add NER places on messages that need an answer."""

    def run(ctxs: list[Context]) -> None:
        if u.gazetteer:
            for ctx in ctxs:
                places = u.gazetteer.find(ctx.doc)
                ctx.out.update(places=places, territory=u.gazetteer.territory_of(places))
        if not u.use_ner:
            return
        todo = [c for c in ctxs if c.out.get("kind") in NER_KINDS and needs_ner(c.doc, c.out["places"])]
        if not todo:
            return
        try:
            found = tag([c.doc.text for c in todo])
        except (EmbeddingUnavailable, ImportError, OSError) as exc:
            log.warning("NER отключён: %s", exc)
            u.use_ner = False
            return
        for ctx, entities in zip(todo, found, strict=True):
            extra = ner_places(ctx.doc, entities, ctx.out["places"])
            if extra:
                ctx.out["places"] = [*ctx.out["places"], *extra]

    return run


@register_stage("review")
def _review_stage(u: Understander) -> Stage:
    """Flag for a human: an unsure sector, or a complaint with no sector to route it by."""

    def run(ctxs: list[Context]) -> None:
        for ctx in ctxs:
            sector = ctx.out.get("sector")
            threshold = TRAINED_REVIEW_THRESHOLD if ctx.notes.get("trained_sector") else REVIEW_THRESHOLD
            unsure = sector is not None and float(ctx.out.get("sector_confidence", 0.0)) < threshold
            ctx.out["needs_review"] = unsure or (ctx.out.get("kind") is Kind.complaint and sector is None)

    return run
