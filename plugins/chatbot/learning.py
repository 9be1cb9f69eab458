"""The learning loop: the questions the bot did not understand (low confidence,
out of scope, thumbs-down, handed off), grouped by similarity for review; turning
them into training examples of an intent (or of ``out_of_scope``); retraining.

These are the functions the inbox's "Preguntas no comprendidas" page calls (and the
``canales bot questions|assign|review|train`` commands). Added examples live in the
``chatbot_example`` table, overlaid on the knowledge file at training time: the
organism's YAML stays as its authors wrote it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import func, update
from sqlmodel import col, or_, select

from canales.core.site import Site
from canales.plugins.chatbot import registry
from canales.plugins.chatbot.bot import PLUGIN, SiteBot, read_knowledge
from canales.plugins.chatbot.knowledge import Knowledge
from canales.plugins.chatbot.knowledge.schema import OUT_OF_SCOPE
from canales.plugins.chatbot.models import REVIEW_STATES, BotExample, BotModel, BotTurn
from canales.plugins.chatbot.nlu.normalize import has_words, normalize, phonetic

MAX_EXAMPLE_CHARS = 500
# Questions closer than this (cosine distance of character n-grams) are grouped.
GROUP_DISTANCE = 0.6


class ReviewError(ValueError):
    """A review action that cannot be done (unknown intent, no such question)."""


@dataclass(frozen=True)
class Question:
    turn_id: int
    conversation_id: int
    text: str
    created_at: dt.datetime
    intent: str | None
    confidence: float | None
    outcome: str
    reason: str | None
    feedback: str | None
    resolved_intent: str | None
    review: str | None


@dataclass
class QuestionGroup:
    """Similar questions, most recent first; ``suggested_intent`` is what citizens
    picked after "¿Quisiste decir…?", else what the classifier guessed most."""

    questions: list[Question] = field(default_factory=list)
    suggested_intent: str | None = None

    @property
    def size(self) -> int:
        return len(self.questions)

    @property
    def turn_ids(self) -> list[int]:
        return [q.turn_id for q in self.questions]


def _question(turn: BotTurn) -> Question:
    return Question(
        turn.id or 0, turn.conversation_id, turn.text, turn.created_at, turn.intent, turn.confidence,
        turn.outcome, turn.reason, turn.feedback, turn.resolved_intent, turn.review,
    )


def group_questions(questions: Sequence[Question]) -> list[QuestionGroup]:
    """Group by similarity of their character n-grams (average-linkage clustering);
    largest groups first."""
    if not questions:
        return []
    if len(questions) == 1:
        groups = [QuestionGroup([questions[0]])]
    else:
        matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), preprocessor=phonetic).fit_transform(
            [q.text for q in questions]
        )
        distance = np.clip(1.0 - (matrix @ matrix.T).toarray(), 0.0, 2.0)
        labels = AgglomerativeClustering(
            n_clusters=None, metric="precomputed", linkage="average", distance_threshold=GROUP_DISTANCE
        ).fit_predict(distance)
        by_label: dict[int, QuestionGroup] = {}
        for question, label in zip(questions, labels):
            by_label.setdefault(int(label), QuestionGroup()).questions.append(question)
        groups = list(by_label.values())
    for group in groups:
        group.questions.sort(key=lambda q: q.created_at, reverse=True)
        picked = Counter(q.resolved_intent for q in group.questions if q.resolved_intent)
        guessed = Counter(q.intent for q in group.questions if q.intent and q.intent != OUT_OF_SCOPE)
        best = picked or guessed
        group.suggested_intent = best.most_common(1)[0][0] if best else None
    groups.sort(key=lambda g: (-g.size, -g.questions[0].created_at.timestamp()))
    return groups


async def misunderstood(
    site: Site, status: str = "new", *, since: dt.datetime | None = None, limit: int = 500
) -> list[QuestionGroup]:
    """The site's questions up for review with ``status`` (``new``, ``done``,
    ``ignored``), newest ``limit`` of them, grouped by similarity."""
    if status not in REVIEW_STATES:
        raise ReviewError(f"status must be one of {', '.join(REVIEW_STATES)}")
    query = select(BotTurn).where(BotTurn.site_id == site.id, BotTurn.review == status)
    if since is not None:
        query = query.where(col(BotTurn.created_at) >= since)
    async with site.db.read() as session:
        turns = (await session.exec(query.order_by(col(BotTurn.created_at).desc()).limit(limit))).all()
    return group_questions([_question(t) for t in turns if has_words(t.text)])


async def set_review(site: Site, turn_ids: Sequence[int], status: str, agent_id: int | None = None) -> int:
    """Mark questions New, Done or Ignored; returns how many changed."""
    if status not in REVIEW_STATES:
        raise ReviewError(f"status must be one of {', '.join(REVIEW_STATES)}")
    async with site.db.write() as session:
        result = await session.exec(
            update(BotTurn)
            .where(BotTurn.site_id == site.id, col(BotTurn.id).in_(list(turn_ids)), col(BotTurn.review).is_not(None))
            .values(review=status, reviewed_at=site.now(), reviewed_by=agent_id)
        )
    return int(result.rowcount or 0)


def _knowledge(site: Site) -> Knowledge:
    bot: SiteBot | None = site.state.get(PLUGIN)
    knowledge = bot.knowledge if bot is not None else read_knowledge(site)
    if knowledge is None:
        raise ReviewError(f"site {site.id} has no chatbot knowledge file")
    return knowledge


async def assign(site: Site, turn_ids: Sequence[int], intent: str, agent_id: int | None = None) -> int:
    """Add the questions as training examples of ``intent`` (or ``out_of_scope``)
    and mark them Done, in one transaction. An identical example (after
    normalisation) is moved to the new intent. Returns how many examples were
    added or moved. Takes effect at the next :func:`retrain`."""
    knowledge = _knowledge(site)
    if intent != OUT_OF_SCOPE and intent not in knowledge.intents:
        raise ReviewError(f"no intent called {intent!r}; known: {', '.join(sorted(knowledge.intents))}")
    now = site.now()
    changed = 0
    async with site.db.write() as session:
        turns = (
            await session.exec(select(BotTurn).where(BotTurn.site_id == site.id, col(BotTurn.id).in_(list(turn_ids))))
        ).all()
        if len(turns) != len(set(turn_ids)):
            raise ReviewError("some of those questions do not exist on this site")
        for turn in turns:
            text = turn.text.strip()[:MAX_EXAMPLE_CHARS]
            key = normalize(text)[:600]
            if not key:
                continue
            existing = (
                await session.exec(select(BotExample).where(BotExample.site_id == site.id, BotExample.normalized == key))
            ).first()
            if existing is None:
                session.add(BotExample(site_id=site.id, intent=intent, text=text, normalized=key, turn_id=turn.id, created_by=agent_id, created_at=now))
                changed += 1
            elif existing.intent != intent:
                existing.intent, existing.created_by, existing.created_at = intent, agent_id, now
                session.add(existing)
                changed += 1
            turn.review, turn.assigned_intent, turn.reviewed_at, turn.reviewed_by = "done", intent, now, agent_id
            session.add(turn)
    return changed


async def remove_example(site: Site, example_id: int) -> bool:
    """Delete an added example (a wrong assignment); takes effect at retraining."""
    async with site.db.write() as session:
        row = (await session.exec(select(BotExample).where(BotExample.site_id == site.id, col(BotExample.id) == example_id))).first()
        if row is None:
            return False
        await session.delete(row)
    return True


async def needs_retraining(site: Site) -> bool:
    """Whether the active model lacks examples added (or moved) since it was
    trained, or the knowledge file changed."""
    data, _ = await registry.training_data(site, _knowledge(site))
    active = await registry.active_model(site)
    return active is None or active.digest != registry.digest_of(data)


async def retrain(site: Site, agent_id: int | None = None) -> tuple[BotModel, bool]:
    """Train on the knowledge file plus the added examples, activate the version
    and, in this process, serve it at once (other workers follow within 30 s).
    Returns the version and whether it is new."""
    knowledge = _knowledge(site)
    model, new = await registry.train(site, knowledge, f"agent:{agent_id}" if agent_id else "inbox")
    bot: SiteBot | None = site.state.get(PLUGIN)
    if bot is not None:
        await bot.use(model)
    return model, new


async def outcomes(site: Site, since: dt.datetime) -> dict[str, int]:
    """Turns per outcome, and 👍/👎 counts, since ``since`` (for a dashboard)."""
    async with site.db.read() as session:
        rows = (
            await session.exec(
                select(BotTurn.outcome, func.count()).where(BotTurn.site_id == site.id, col(BotTurn.created_at) >= since).group_by(BotTurn.outcome)
            )
        ).all()
        feedback = (
            await session.exec(
                select(BotTurn.feedback, func.count())
                .where(BotTurn.site_id == site.id, col(BotTurn.created_at) >= since, or_(BotTurn.feedback == "up", BotTurn.feedback == "down"))
                .group_by(BotTurn.feedback)
            )
        ).all()
    out = {outcome: int(n) for outcome, n in rows}
    out.update({f"feedback_{value}": int(n) for value, n in feedback})
    return out
