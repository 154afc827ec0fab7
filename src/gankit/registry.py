"""Named registries: one per kind (losses, networks, data sets, metrics, experiments, ...).

A registry maps a name to a *factory* (a function or class). The factory's keyword
arguments, with their type hints and defaults, *are* the options a user may set for
that entry in a config (``loss.name=fgan loss.divergence=kl``). The CLI's choices,
config validation, the docs tables and the parametrised tests all read the same
registry, so adding an entry is a one-place change.

Values are checked where they enter: :func:`coerce` checks a value against its hint, so a
float must be finite, an integer must fit in 64 bits, and a hint written
``Annotated[int, Bounds(ge=1)]`` (or one of the aliases below: :data:`Count`,
:data:`Positive`, ...) also carries its allowed range. Factories and the config dataclasses
state their ranges in their signatures, and the same check serves ``--set``, config files,
checkpoints and Python callers of :meth:`Registry.build`.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Generic, TypeVar

from gankit.errors import ConfigError

T = TypeVar("T")

INT64_MAX = 2**63 - 1


class OutOfRange(ConfigError):
    """A value of the right type outside its option's :class:`Bounds` (a union of hints
    reports this one rather than "expected X | Y")."""


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The allowed range of a numeric option, attached to its hint with ``typing.Annotated``.

    ``ge``/``gt`` and ``le``/``lt`` are inclusive/exclusive bounds; ``inf`` lets a float
    option be infinite (never NaN), which every float option otherwise may not be.
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    inf: bool = False

    def check(self, value: float, where: str) -> None:
        if isinstance(value, float) and math.isnan(value):
            return  # coerce has already refused it; NaN compares False with every bound
        ok = ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
              and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))
        if not ok:
            raise OutOfRange(f"{where} must be {self.describe()}, got {_number(value)}")

    def describe(self) -> str:
        lo = (f"[{_number(self.ge)}" if self.ge is not None else f"({_number(self.gt)}"
              if self.gt is not None else None)
        hi = (f"{_number(self.le)}]" if self.le is not None else f"{_number(self.lt)})"
              if self.lt is not None else None)
        if lo and hi:
            return f"in {lo}, {hi}"
        if lo:
            return f"{'>=' if self.ge is not None else '>'} {lo[1:]}"
        if hi:
            return f"{'<=' if self.le is not None else '<'} {hi[:-1]}"
        return "a number"


def _number(x: float) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() and abs(x) < 1e16 else str(x)


# The ranges options share. A seed is 32-bit so every seed derived from it (run.py draws
# ``seed * 1000`` and ``seed * 7919 + 17``) stays far inside torch.manual_seed's 64-bit range.
SEED_MAX = 2**32 - 1
Count = Annotated[int, Bounds(ge=1)]              # sizes, widths, steps, samples: 0 makes no sense
NonNegativeInt = Annotated[int, Bounds(ge=0)]     # 0 means "off" or "keep"
Positive = Annotated[float, Bounds(gt=0)]         # scales, standard deviations, learning rates
NonNegative = Annotated[float, Bounds(ge=0)]      # weights of penalties, weight decay, noise
Fraction = Annotated[float, Bounds(ge=0, lt=1)]   # Adam's betas, EMA decay, momentum, dropout
Seed = Annotated[int, Bounds(ge=0, le=SEED_MAX)]
LatentDim = Annotated[int, Bounds(ge=1), Bounds(le=1 << 16)]  # two Bounds: each message names its own side


@dataclasses.dataclass
class Component:
    """A registry name and the options passed to its factory (a config section such as
    ``data``, ``model`` or, inside a recipe's options, ``generator``)."""

    name: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **{k: plain(v) for k, v in self.options.items()}}

    def __getitem__(self, key: str) -> Any:
        return self.options[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


def plain(value: Any) -> Any:
    """``value`` as YAML/JSON writes it: components as mappings, tuples as lists."""
    if isinstance(value, Component):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True)
class Of:
    """Marks an option whose value is a component of another registry, named by its kind:
    ``generator: Annotated[Component, Of("generator")]`` takes ``mlp``, ``{name: mlp, width: 64}``
    or ``dcgan``, each validated against that registry; ``many`` takes a mapping of names to
    options (``mitigations: {pack: {m: 2}, drs: {}}``)."""

    kind: str
    many: bool = False


# Every registry by its kind, so an option marked ``Of(kind)`` finds the registry that
# validates it without importing the package that defines it.
_BY_KIND: dict[str, Registry[Any]] = {}


def registry_of(kind: str) -> Registry[Any]:
    """The registry of ``kind`` (``"generator"``, ``"loss"``, ``"model"``, ...)."""
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise ConfigError(f"no registry of {kind!r} is loaded") from None


@dataclasses.dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: T
    summary: str = ""
    paper: str = ""
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def options(self, context: tuple[str, ...] = ()) -> dict[str, inspect.Parameter]:
        """User-settable keyword options of the factory (context arguments excluded). A class
        whose ``__init__`` passes ``**options`` on to its base's takes the base's options too."""
        out: dict[str, inspect.Parameter] = {}
        for target in _signature_chain(self.factory):
            for n, p in inspect.signature(target).parameters.items():
                if n not in context and n != "self" and n not in out \
                        and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
                    out[n] = p
        return out

    def hint(self, key: str) -> Any:
        """The type hint option ``key`` is validated against (``Any`` if it has none)."""
        return _hint(self.factory, key)

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
        _BY_KIND.setdefault(kind, self)

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
        out = copy.deepcopy(entry.defaults(self.context))
        for key, value in options.items():
            if key not in params:
                allowed = ", ".join(params) or "none"
                raise ConfigError(f"unknown option {where}.{key} for {self.kind} {name!r} (options: {allowed})")
            default = out.get(key)
            if isinstance(default, Component) and isinstance(value, Mapping) and "name" not in value:
                value = {**default.to_dict(), **value}  # 'generator.width=64' keeps the default's name
            out[key] = coerce(value, _hint(entry.factory, key), f"{where}.{key}")
        for key in params.keys() - options.keys():  # a component's defaults are resolved like a user's
            if key in out and _of(_hint(entry.factory, key)) is not None:
                out[key] = coerce(out[key], _hint(entry.factory, key), f"{where}.{key}")
        missing = [k for k, p in params.items() if k not in out]
        if missing:
            raise ConfigError(f"{self.kind} {name!r} needs option(s): {', '.join(f'{where}.{m}' for m in missing)}")
        return out

    def build(self, name: str, options: Mapping[str, Any] | None = None, **context: Any) -> Any:
        """Validate options and call the factory with them plus the framework's context."""
        resolved = self.resolve(name, options or {})
        try:
            return self.get(name)(**context, **resolved)  # type: ignore[operator]
        except (MemoryError, RuntimeError) as e:
            # torch's CPU allocator raises RuntimeError("... can't allocate memory ..."), CUDA's
            # torch.OutOfMemoryError (a RuntimeError): options too large for this machine.
            if not (isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError"
                    or "can't allocate memory" in str(e)):
                raise
            shown = ", ".join(f"{k}={v!r}" for k, v in resolved.items())
            asked = re.search(r"tried to allocate (\d+) bytes", str(e))
            how = f"it needs {int(asked.group(1)) / 2**30:.1f} GiB at once" if asked else str(e).splitlines()[0][:160]
            raise ConfigError(f"{self.kind} {name!r} ({shown}) does not fit in memory: {how}") from None


def _signature_chain(factory: Any) -> list[Any]:
    """The callables whose parameters are the factory's options: a function; a class's
    ``__init__``, then its bases' while each passes ``**kwargs`` on."""
    if not inspect.isclass(factory):
        return [factory]
    chain = []
    for klass in factory.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        chain.append(init)
        if not any(p.kind is p.VAR_KEYWORD for p in inspect.signature(init).parameters.values()):
            break
    return chain


def _hint(factory: Any, key: str) -> Any:
    for target in _signature_chain(factory):
        hints = _hints(target)
        if key in hints:
            return hints[key]
    return Any


def _hints(target: Any) -> dict[str, Any]:
    """``target``'s resolved annotations; one that cannot be resolved (a name imported only
    for type checkers, such as a recipe's ``cfg: Config``) is left out, not the others."""
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:
        pass
    out = {}
    namespace = getattr(target, "__globals__", {})
    for name, ann in getattr(target, "__annotations__", {}).items():
        try:
            out[name] = eval(ann, namespace) if isinstance(ann, str) else ann  # noqa: S307 (source annotations)
        except Exception:
            continue
    return out


def _of(hint: Any) -> Of | None:
    if typing.get_origin(hint) is Annotated:
        return next((m for m in hint.__metadata__ if isinstance(m, Of)), None)
    return None


def component(value: Any, of: Of, where: str) -> Any:
    """``value`` as a resolved component of registry ``of.kind``: a name (``mlp``, or
    ``folder:PATH`` for ``name=folder, path=PATH``), a mapping with ``name``, or a
    :class:`Component`; with ``of.many``, a mapping of names to options (or a list of names)."""
    registry = registry_of(of.kind)
    if of.many:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            value = {v: {} for v in value}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping name -> options, got {value!r}")
        out = {}
        for name, opts in value.items():
            opts = {} if opts in (None, True) else opts
            if not isinstance(opts, Mapping):
                raise ConfigError(f"{where}.{name} must be a mapping of options, got {opts!r}")
            out[name] = registry.resolve(name, opts, where=f"{where}.{name}")
        return out
    if isinstance(value, Component):
        value = value.to_dict()
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a name or a mapping with 'name', got {value!r}")
    opts = dict(value)
    name = opts.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError(f"{where}.name must be a string, got {name!r}")
    if ":" in name and name.split(":", 1)[0] in registry:  # 'folder:PATH' -> name=folder, path=PATH
        name, opts["path"] = name.split(":", 1)
    return Component(name, registry.resolve(name, opts, where=where))


def coerce(value: Any, hint: Any, where: str, *, inf: bool = False) -> Any:
    """Check ``value`` against a type hint, converting the harmless cases (int -> float, list -> tuple).

    Floats must be finite (``inf``: unless the hint's :class:`Bounds` allow infinity), integers
    must fit in 64 bits, strings may not hold NUL characters (no file API takes them) and
    ``Annotated[..., Bounds(...)]`` hints check their range.
    """
    if hint is Any or hint is inspect.Parameter.empty:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Annotated:
        of = _of(hint)
        if of is not None:
            return component(value, of, where)
        bounds = [m for m in hint.__metadata__ if isinstance(m, Bounds)]
        value = coerce(value, args[0], where, inf=inf or any(b.inf for b in bounds))
        for b in bounds:
            for v in (value if isinstance(value, (list, tuple)) else [value]):
                b.check(v, where)
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        arms = [a for a in args if a is not type(None)]
        if len(arms) == 1:  # Optional[X]: X's own message
            return coerce(value, arms[0], where, inf=inf)
        for a in arms:
            try:
                return coerce(value, a, where, inf=inf)
            except OutOfRange:
                raise
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_name(hint)}, got {value!r}")
    if origin is typing.Literal:
        for a in args:  # exact type: True is not the literal 1, 3.0 becomes the literal 3
            if value == a and (type(value) is type(a) or (type(a) is int and type(value) is float)):
                return a
        raise ConfigError(f"{where}: expected one of {', '.join(map(repr, args))}, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(coerce(v, a, where, inf=inf) for v, a in zip(value, args))
        inner = args[0] if args else Any
        return origin(coerce(v, inner, where, inf=inf) for v in value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        value = float(value)
        if math.isnan(value) or (math.isinf(value) and not inf):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if not (isinstance(value, float) and value.is_integer()):
                raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if abs(value) > INT64_MAX:  # every integer ends up in torch or numpy as an int64
            raise ConfigError(f"{where}: expected an integer of at most 64 bits, got {value!r}")
        return int(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        if "\0" in value:
            raise ConfigError(f"{where}: a string with a NUL character is not allowed, got {value!r}")
        return value
    return value


def _name(hint: Any) -> str:
    """``int | list[int]``, ``int`` for ``Annotated[int, Bounds(ge=1)]``: how messages spell a hint."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return _name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else _name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(map(repr, args))
    if origin is not None and args:
        return f"{getattr(origin, '__name__', origin)}[{', '.join('...' if a is Ellipsis else _name(a) for a in args)}]"
    return getattr(hint, "__name__", str(hint).replace("typing.", ""))
