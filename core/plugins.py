"""Finding plugins and giving each site a plugin manager of its own.

Plugins are found through the ``canales`` entry-point group; the built-in channels
register there exactly as a third-party package would. Each site gets a fresh
:class:`pluggy.PluginManager` holding core's defaults and only the plugins the site
enables, so a disabled plugin never sees that site's traffic.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError

from canales.core import hookspecs
from canales.core.siteconfig import ConfigError, SiteConfig, describe_error

ENTRY_POINT_GROUP = "canales"
# Core's own hook implementations: always registered, cannot be disabled.
ESSENTIAL = {"core": "canales.core.defaults"}


@dataclass(frozen=True)
class Available:
    """A plugin that can be enabled: where it comes from and how to load it."""

    name: str
    target: str  # "module" or "module:attr"
    distribution: str | None = None
    version: str | None = None
    loaded: Any = None

    def load(self) -> Any:
        if self.loaded is not None:
            return self.loaded
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in filter(None, attr.split(".")):
                obj = getattr(obj, part)
        except Exception as exc:  # noqa: BLE001 - any import failure is reported the same way
            raise ConfigError(
                f'error importing plugin "{self.name}" ({self.target}): '
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return obj


def installed() -> dict[str, Available]:
    """Every plugin installed in this environment, by entry-point name."""
    found: dict[str, Available] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        found[ep.name] = Available(
            name=ep.name,
            target=ep.value,
            distribution=dist.metadata["Name"] if dist else None,
            version=dist.version if dist else None,
        )
    return found


def from_module(name: str, module: ModuleType | object | str) -> Available:
    """Make a module (or any object with hook implementations) that is not
    installed as a package available under ``name``, for development and tests
    (like ``pytest -p``). A string is imported when the plugin is enabled."""
    if isinstance(module, str):
        return Available(name=name, target=module)
    target = getattr(module, "__name__", type(module).__qualname__)
    return Available(name=name, target=target, loaded=module)


def new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name, target in ESSENTIAL.items():
        pm.register(importlib.import_module(target), name=name)
    return pm


def manager_for(config: SiteConfig, available: dict[str, Available]) -> pluggy.PluginManager:
    """A plugin manager with core's defaults and the site's enabled plugins."""
    pm = new_manager()
    for name in config.enabled_plugins():
        if name in ESSENTIAL:
            raise ConfigError(f"{config.path}: plugins.{name}: core is always enabled")
        if name not in available:
            known = ", ".join(sorted(available)) or "none"
            raise ConfigError(
                f"{config.path}: plugins.{name}: no installed plugin is called "
                f"{name!r} (installed: {known})"
            )
        try:
            pm.register(available[name].load(), name=name)
        except ValueError as exc:
            raise ConfigError(f"{config.path}: plugins.{name}: {exc}") from None
        except pluggy.PluginValidationError as exc:
            raise ConfigError(f"plugin {name!r} is not valid: {exc}") from None
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigError(
            f"a plugin of site {config.id!r} implements a hook that does not exist: {exc}"
        ) from None
    return pm


def validate_settings(config: SiteConfig, pm: pluggy.PluginManager) -> dict[str, BaseModel | None]:
    """Validate each enabled plugin's settings with the model the plugin provides."""
    models: dict[str, type[BaseModel]] = {}
    for impl in pm.hook.settings_model.get_hookimpls():
        name = pm.get_name(impl.plugin)
        if name is not None:
            models[name] = impl.function()
    settings: dict[str, BaseModel | None] = {}
    errors: list[str] = []
    for name in config.enabled_plugins():
        raw = config.plugin_settings(name)
        model = models.get(name)
        if model is None:
            if raw:
                errors.append(
                    f"{config.path}: plugins.{name}: this plugin takes no settings "
                    f"(found {', '.join(sorted(raw))})"
                )
            settings[name] = None
            continue
        try:
            # Validators may need the site file's place (paths relative to it).
            settings[name] = model.model_validate(raw, context={"site_file": config.path})
        except ValidationError as exc:
            errors.append(describe_error(config.path or "", exc, prefix=f"plugins.{name}"))
    if errors:
        raise ConfigError("\n".join(errors))
    return settings


def hooks_of(pm: pluggy.PluginManager, name: str) -> list[str]:
    """The hooks a registered plugin implements, sorted."""
    plugin = pm.get_plugin(name)
    if plugin is None:
        return []
    return sorted(caller.name for caller in (pm.get_hookcallers(plugin) or []))
