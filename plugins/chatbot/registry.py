"""Model versions: train from the knowledge file plus the examples admins added,
store the version under the content hash of its training data, activate it, and
restore an earlier one.

A model is a deterministic function of its training data and the pipeline version,
so a version stores its data, not a pickle; any worker rebuilds the same model from
it (and keeps the few it uses in memory). Several workers may train at once: the
``(site, digest)`` unique key keeps one row per version.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from canales.core.site import Site
from canales.plugins.chatbot.knowledge import Knowledge, TrainingData
from canales.plugins.chatbot.knowledge.annotations import Example
from canales.plugins.chatbot.knowledge.schema import OUT_OF_SCOPE
from canales.plugins.chatbot.models import BotExample, BotModel
from canales.plugins.chatbot.nlu.classifier import PIPELINE_VERSION, IntentClassifier
from canales.plugins.chatbot.nlu.entities import Synonyms

log = logging.getLogger("canales.chatbot.models")

_CACHE: "OrderedDict[str, IntentClassifier]" = OrderedDict()
_CACHE_SIZE = 16


class NoSuchModel(LookupError):
    """No model version matches."""


def digest_of(training: TrainingData) -> str:
    return hashlib.sha256(f"{PIPELINE_VERSION}\n{training.digest()}".encode()).hexdigest()


def fit(training: TrainingData) -> IntentClassifier | None:
    """Train a classifier (``None`` when there are no examples)."""
    if not training.examples:
        return None
    return IntentClassifier(Synonyms(training.synonyms)).fit(
        [e.text for e in training.examples], [e.intent for e in training.examples]
    )


async def classifier_for(model: BotModel) -> IntentClassifier | None:
    """The classifier of a stored version (trained in a thread, then cached)."""
    cached = _CACHE.get(model.digest)
    if cached is not None:
        _CACHE.move_to_end(model.digest)
        return cached
    classifier = await asyncio.to_thread(fit, snapshot(model))
    if classifier is not None:
        _CACHE[model.digest] = classifier
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return classifier


def snapshot(model: BotModel) -> TrainingData:
    return TrainingData([Example(text, intent) for text, intent in model.examples], dict(model.synonyms))


async def added_examples(site: Site) -> list[BotExample]:
    async with site.db.read() as session:
        return list((await session.exec(select(BotExample).where(BotExample.site_id == site.id).order_by(col(BotExample.id)))).all())


async def training_data(site: Site, knowledge: Knowledge) -> tuple[TrainingData, int]:
    """The knowledge file's examples plus the admins' (for intents the knowledge
    still has); returns the data and how many were added."""
    data = TrainingData(list(knowledge.training.examples), {k: list(v) for k, v in knowledge.training.synonyms.items()})
    added = 0
    for row in await added_examples(site):
        if row.intent in knowledge.intents or row.intent == OUT_OF_SCOPE:
            data.examples.append(Example(row.text, row.intent))
            added += 1
        else:
            log.warning("site %s: example %d is for intent %r, which the knowledge no longer has", site.id, row.id, row.intent)
    return data, added


async def active_model(site: Site) -> BotModel | None:
    async with site.db.read() as session:
        return (
            await session.exec(select(BotModel).where(BotModel.site_id == site.id, col(BotModel.active).is_(True)))
        ).first()


async def versions(site: Site) -> list[BotModel]:
    """Every version of the site's model, newest first."""
    async with site.db.read() as session:
        return list(
            (await session.exec(select(BotModel).where(BotModel.site_id == site.id).order_by(col(BotModel.created_at).desc(), col(BotModel.id).desc()))).all()
        )


async def activate(site: Site, digest: str) -> BotModel:
    """Make the version ``digest`` (or a unique prefix of it) the active one."""
    async with site.db.write() as session:
        rows = (
            await session.exec(select(BotModel).where(BotModel.site_id == site.id, col(BotModel.digest).startswith(digest)))
        ).all()
        if len(rows) != 1 or len(digest) < 6:
            raise NoSuchModel(f"no single model version of site {site.id} starts with {digest!r}")
        row = rows[0]
        await session.exec(update(BotModel).where(BotModel.site_id == site.id, col(BotModel.id) != row.id).values(active=False))
        row.active = True
        row.activated_at = site.now()
        session.add(row)
        await session.flush()
        await session.refresh(row)
    return row


async def train(site: Site, knowledge: Knowledge, created_by: str) -> tuple[BotModel, bool]:
    """Train on the current data and activate the result. Returns the version and
    whether it is new (the same data gives the same version, which is simply
    activated again)."""
    data, added = await training_data(site, knowledge)
    digest = digest_of(data)
    async with site.db.read() as session:
        existing = (await session.exec(select(BotModel).where(BotModel.site_id == site.id, BotModel.digest == digest))).first()
    if existing is not None:
        return await activate(site, digest), False
    started = time.perf_counter()
    classifier = _CACHE.get(digest) or await asyncio.to_thread(fit, data)
    seconds = time.perf_counter() - started
    if classifier is not None:
        _CACHE[digest] = classifier
    row = BotModel(
        site_id=site.id,
        digest=digest,
        pipeline=PIPELINE_VERSION,
        knowledge_digest=knowledge.training.digest(),
        examples=[[e.text, e.intent] for e in data.examples],
        synonyms=data.synonyms,
        n_examples=len(data.examples),
        n_intents=len({e.intent for e in data.examples}),
        n_added=added,
        train_seconds=round(seconds, 3),
        created_by=created_by[:40],
        created_at=site.now(),
    )
    try:
        async with site.db.write() as session:
            session.add(row)
    except IntegrityError:
        pass  # another worker stored the same version meanwhile
    return await activate(site, digest), True


async def ensure_current(site: Site, knowledge: Knowledge) -> BotModel:
    """The version to serve at start-up: the active one, unless the knowledge file's
    training data changed since it was trained (then train anew)."""
    active = await active_model(site)
    if active is not None and active.knowledge_digest == knowledge.training.digest() and active.pipeline == PIPELINE_VERSION:
        return active
    model, _ = await train(site, knowledge, "startup")
    log.info("site %s: trained model %s (%d examples)", site.id, model.digest[:12], model.n_examples)
    return model


async def rollback(site: Site, to: str | None = None) -> BotModel:
    """Activate ``to`` (a digest prefix), or the version that was active before the
    current one."""
    if to:
        return await activate(site, to)
    history = [m for m in await versions(site) if m.activated_at is not None and not m.active]
    if not history:
        raise NoSuchModel(f"site {site.id} has no earlier model version to restore")
    previous = max(history, key=lambda m: (m.activated_at, m.id or 0))
    return await activate(site, previous.digest)


def describe(models: Sequence[BotModel]) -> list[dict[str, object]]:
    """Versions as plain data (for the command line and the inbox)."""
    return [
        {
            "digest": m.digest,
            "active": m.active,
            "created_at": m.created_at.isoformat(),
            "activated_at": m.activated_at.isoformat() if m.activated_at else None,
            "created_by": m.created_by,
            "examples": m.n_examples,
            "added_examples": m.n_added,
            "intents": m.n_intents,
            "train_seconds": m.train_seconds,
            "pipeline": m.pipeline,
        }
        for m in models
    ]
