"""The bot of one running site: its knowledge, the active model version, the
dialogue and the action runner, kept in ``site.state["chatbot"]``.

Workers pick up a model trained elsewhere (``canales bot train``, the inbox, another
worker's rollback) through :meth:`SiteBot.refresh`, run as a periodic job.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from canales.core.site import Site
from canales.core.siteconfig import ConfigError
from canales.plugins.chatbot import registry
from canales.plugins.chatbot.actions import ActionRunner
from canales.plugins.chatbot.dialogue import Dialogue
from canales.plugins.chatbot.egress import EgressPolicy, Resolver, system_resolver
from canales.plugins.chatbot.knowledge import Knowledge, KnowledgeError, load_knowledge
from canales.plugins.chatbot.models import BotModel
from canales.plugins.chatbot.settings import ChatbotSettings

log = logging.getLogger("canales.chatbot")

PLUGIN = "chatbot"


def settings_of(site: Site) -> ChatbotSettings:
    return site.settings(PLUGIN, ChatbotSettings)


def knowledge_path(site: Site, settings: ChatbotSettings) -> Path | None:
    if settings.knowledge is None:
        return None
    path = Path(settings.knowledge)
    if not path.is_absolute() and site.config.path is not None:
        path = Path(site.config.path).parent / path
    return path


def read_knowledge(site: Site) -> Knowledge | None:
    """Load the site's knowledge file; a problem is a :class:`ConfigError` naming
    the file and line."""
    settings = settings_of(site)
    path = knowledge_path(site, settings)
    if path is None:
        return None
    try:
        return load_knowledge(path, allowed_hosts=settings.allowed_hosts, secret_names=settings.secrets)
    except KnowledgeError as exc:
        raise ConfigError(f"plugins.chatbot.knowledge of site {site.id!r}:\n" + "\n".join(exc.problems)) from None


class SiteBot:
    """Everything the bot of one site needs at run time."""

    def __init__(self, site: Site, knowledge: Knowledge, model: BotModel, dialogue: Dialogue, runner: ActionRunner) -> None:
        self.site = site
        self.knowledge = knowledge
        self.model = model
        self.dialogue = dialogue
        self.runner = runner

    @classmethod
    async def start(
        cls,
        site: Site,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = system_resolver,
    ) -> "SiteBot | None":
        settings = settings_of(site)
        knowledge = read_knowledge(site)
        if knowledge is None:
            log.warning("site %s: the chatbot has no knowledge file (plugins.chatbot.knowledge); it answers nothing", site.id)
            return None
        model = await registry.ensure_current(site, knowledge)
        classifier = await registry.classifier_for(model)
        runner = ActionRunner(
            EgressPolicy.of(settings.allowed_hosts, settings.allow_loopback_hosts),
            dict(settings.secrets),
            knowledge.templates,
            transport=transport,
            resolver=resolver,
        )
        return cls(site, knowledge, model, Dialogue(knowledge, classifier, settings, runner), runner)

    @property
    def digest(self) -> str:
        return self.model.digest

    async def use(self, model: BotModel) -> None:
        """Serve ``model`` from now on (reloading the knowledge file if the model was
        trained on a newer one)."""
        knowledge = self.knowledge
        if model.knowledge_digest != knowledge.training.digest():
            try:
                fresh = read_knowledge(self.site)
            except ConfigError as exc:
                log.error("site %s: cannot reload the knowledge file, keeping the loaded one: %s", self.site.id, exc)
                fresh = None
            if fresh is not None:
                knowledge = fresh
        classifier = await registry.classifier_for(model)
        settings = settings_of(self.site)
        self.runner.templates = knowledge.templates
        self.dialogue = Dialogue(knowledge, classifier, settings, self.runner)
        self.knowledge = knowledge
        self.model = model
        log.info("site %s: now serving model %s", self.site.id, model.digest[:12])

    async def refresh(self) -> bool:
        """Switch to the active version if another process changed it."""
        active = await registry.active_model(self.site)
        if active is None or active.digest == self.model.digest:
            return False
        await self.use(active)
        return True

    async def close(self) -> None:
        await self.runner.close()
