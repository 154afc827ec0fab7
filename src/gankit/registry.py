"""Named registries: one per kind (losses, networks, data sets, metrics, experiments, ...).

A registry maps a name to a *factory* (a function or class). The factory's keyword
arguments, with their type hints and defaults, *are* the options a user may set for
that entry in a config (``loss.name=fgan loss.divergence=kl``). The CLI's choices,
config validation, the docs tables and the parametrised tests all read the same
registry, so adding an entry is a one-place change.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from gankit.errors import ConfigError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: T
    summary: str = ""
    paper: str = ""
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def options(self, context: tuple[str, ...] = ()) -> dict[str, inspect.Parameter]:
        """User-settable keyword options of the factory (context arguments excluded)."""
        sig = inspect.signature(self.factory)
        return {
            n: p
            for n, p in sig.parameters.items()
            if n not in context and n != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }

    def defaults(self, context: tuple[str, ...] = ()) -> dict[str, Any]:
        return {
            n: p.default
            for n, p in self.options(context).items()
            if p.default is not inspect.Parameter.empty
        }


class Registry(Generic[T]):
    """Name -> factory, with a summary line and a paper reference per entry."""

    def __init__(self, kind: str, context: tuple[str, ...] = ()) -> None:
        self.kind = kind
        # Arguments the framework supplies itself (e.g. ``data_shape``); never user options.
        self.context = context
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, *, summary: str = "", paper: str = "", **meta: Any) -> Callable[[T], T]:
        """Decorator adding ``factory`` under ``name``; ``meta`` holds kind-specific facts
        (an experiment's ``claim``, say). The summary defaults to the docstring's first line."""

        def deco(factory: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            doc = (inspect.getdoc(factory) or "").strip().splitlines()
            self._entries[name] = Entry(name, factory, summary or (doc[0] if doc else ""), paper, dict(meta))
            return factory

        return deco

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def get(self, name: str) -> T:
        return self.entry(name).factory

    def resolve(self, name: str, options: Mapping[str, Any], where: str = "") -> dict[str, Any]:
        """Validate ``options`` against the factory's signature; return them with defaults filled."""
        entry = self.entry(name)
        params = entry.options(self.context)
        where = where or self.kind
        out = entry.defaults(self.context)
        for key, value in options.items():
            if key not in params:
                allowed = ", ".join(params) or "none"
                raise ConfigError(f"unknown option {where}.{key} for {self.kind} {name!r} (options: {allowed})")
            out[key] = coerce(value, _hint(entry.factory, key), f"{where}.{key}")
        missing = [k for k, p in params.items() if k not in out]
        if missing:
            raise ConfigError(f"{self.kind} {name!r} needs option(s): {', '.join(f'{where}.{m}' for m in missing)}")
        return out

    def build(self, name: str, options: Mapping[str, Any] | None = None, **context: Any) -> Any:
        """Validate options and call the factory with them plus the framework's context."""
        resolved = self.resolve(name, options or {})
        return self.get(name)(**context, **resolved)  # type: ignore[operator]


def _hint(factory: Any, key: str) -> Any:
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(target).get(key, Any)
    except Exception:  # unresolvable forward reference: skip type checking
        return Any


def coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against a type hint, converting the harmless cases (int -> float, list -> tuple)."""
    if hint is Any or hint is inspect.Parameter.empty:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{where}: expected {_name(hint)}, got {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(coerce(v, a, where) for v, a in zip(value, args))
        inner = args[0] if args else Any
        return origin(coerce(v, inner, where) for v in value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint).replace("typing.", ""))
