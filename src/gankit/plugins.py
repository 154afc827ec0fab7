"""The user's own components: plug-in modules that register data sets, networks, losses,
metrics, mitigations (anything with a registry) by importing gankit's registries and
decorating their factories::

    # my_data.py
    from gankit.data import DATASETS, GaussianMixture

    @DATASETS.register("blobs")
    def blobs(*, sigma: float = 0.1) -> GaussianMixture: ...

A plug-in is named three ways, and every one is loaded before a config is validated (the
config names components that only the plug-in registers):

* ``gankit --plugin MODULE_OR_PATH COMMAND ...`` (repeatable): a module name importable from
  ``sys.path``, or a path to a ``.py`` file;
* the config key ``plugins: [...]`` (a preset, a ``--config`` file, ``--set plugins=[...]``);
* a Python entry point in the group ``gankit.plugins`` of an installed package (loaded in
  every gankit process; its object, if callable, is called once with no arguments).

A run records the plug-ins it was trained with in its ``config.yaml`` and checkpoint
(``plugins:``, module names and absolute file paths, and ``plugin_hashes:``, the SHA-256 of
each file's content). A run directory is data, never code: reopening a run (``gankit eval``,
``sample``, ``resume``, ``judge``) loads a recorded plug-in only when the user allows it on
the command line, by naming it again (``gankit --plugin PATH eval RUN``) or with
``gankit --trust-plugins``; it is loaded only from its recorded absolute path (or from a
``--plugin`` file with the same content), and only if its content still has the recorded
hash (:func:`open_recorded`). Otherwise the command stops with one line that names the
plug-in and how to allow it.

Loading is idempotent: a plug-in already loaded in this process (by name or by file) is not
executed again. A plug-in that is missing, raises, calls ``sys.exit`` or raises
``KeyboardInterrupt`` while loading is a one-line :class:`~gankit.errors.ConfigError` naming it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from gankit.errors import ConfigError, GankitError

ENTRY_POINT_GROUP = "gankit.plugins"

_LOADED: dict[str, ModuleType] = {}     # recorded form (module name or absolute path) -> module
_DIGESTS: dict[str, str] = {}           # recorded form -> SHA-256 of the source that was executed
_REQUESTED: list[str] = []              # this process's --plugin ones, recorded forms
_TRUST = False                          # gankit --trust-plugins: recorded plug-ins whose hash matches
_ENTRY_POINTS_DONE = False


class PluginRefused(GankitError):
    """A run directory names a plug-in the user has not allowed (or whose content changed):
    it is not executed."""


def is_path(spec: str) -> bool:
    """A file path (``x.py``, ``./x``, ``dir/x.py``) rather than a module name (``pkg.mod``)."""
    return spec.endswith(".py") or "/" in spec or "\\" in spec or spec.startswith(("~", "."))


def recorded(spec: str) -> str:
    """The form a run records: the absolute path of a file, a module name as given."""
    spec = spec.strip()
    return str(Path(spec).expanduser().resolve()) if is_path(spec) else spec


def load(spec: str) -> str:
    """Load one plug-in (idempotent) and return its recorded form."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"plugins: a plug-in is a module name or a path to a .py file, got {spec!r}")
    key = recorded(spec)
    if key in _LOADED:
        return key
    _LOADED[key] = _load_file(Path(key)) if is_path(spec) else _load_module(key)
    return key


def load_all(specs: Iterable[str]) -> list[str]:
    """Load every plug-in of ``specs`` in order; their recorded forms, without repeats."""
    out: list[str] = []
    for spec in specs:
        key = load(spec)
        if key not in out:
            out.append(key)
    return out


def _failed(what: str, e: BaseException) -> ConfigError:
    if isinstance(e, SystemExit):  # sys.exit() at import: gankit must not end with the plug-in's status
        return ConfigError(f"plug-in {what} failed to load: it called sys.exit({e.code!r}) while being imported")
    first = (str(e).strip().splitlines() or [""])[0][:200]
    return ConfigError(f"plug-in {what} failed to load: {type(e).__name__}{': ' + first if first else ''}")


# What a plug-in may raise while it is imported, reported as one line naming it: its own
# errors, and the two BaseExceptions that would otherwise end gankit silently or with a traceback.
_IMPORT_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


def _load_module(name: str) -> ModuleType:
    if name in sys.modules:  # imported already (by the user's own code, say): its registrations happened
        module = sys.modules[name]
    else:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
                here = Path.cwd() / f"{name.replace('.', '/')}.py"
                hint = f" (to load the file in this directory, pass ./{here.name})" if here.is_file() else ""
                raise ConfigError(f"plug-in {name!r} not found: no module {e.name!r} on sys.path{hint}") from None
            raise _failed(repr(name), e) from None
        except _IMPORT_FAILURES as e:  # whatever the user's module raises, one line naming it
            raise _failed(repr(name), e) from None
    source = getattr(module, "__file__", None)
    if source and Path(source).is_file():
        _DIGESTS[name] = sha256(Path(source).read_bytes())
    return module


def sha256(content: bytes) -> str:
    """The hex SHA-256 of a plug-in's source, as a run records it."""
    return hashlib.sha256(content).hexdigest()


def _module_digest(name: str) -> str | None:
    """The SHA-256 of module ``name``'s source file, found without importing it (a dotted
    name's parent packages are imported to find it); None when it has no file."""
    if name in _DIGESTS:
        return _DIGESTS[name]
    try:
        spec = importlib.util.find_spec(name)
    except _IMPORT_FAILURES:
        return None
    origin = spec.origin if spec is not None else None
    return sha256(Path(origin).read_bytes()) if origin and Path(origin).is_file() else None


def module_name(path: Path) -> str:
    """A stable module name for a plug-in file: its stem and a hash of its absolute path."""
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"gankit_plugin_{stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:10]}"


def _read_file(path: Path) -> bytes:
    """A plug-in file's source; a missing file, a folder or another suffix is one line."""
    if not path.exists():
        raise ConfigError(f"plug-in file {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"plug-in file {path} is not a file")
    if path.suffix != ".py":
        raise ConfigError(f"plug-in file {path} must be a Python file ending in .py")
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"plug-in file {path} cannot be read: {e.strerror or e}") from None


def _load_file(path: Path, expected: str | None = None) -> ModuleType:
    """Execute the plug-in file ``path``; with ``expected``, only if its SHA-256 is that hash
    (the bytes hashed are the bytes executed: the file cannot change in between)."""
    source = _read_file(path)
    digest = sha256(source)
    if expected is not None and digest != expected:
        raise _changed(str(path), expected, digest)
    name = module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"plug-in file {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses and pickling look the module up
    try:
        # compiled from the bytes read above; gankit writes nothing beside the user's file (no __pycache__)
        exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102 - the user allowed this file
    except _IMPORT_FAILURES as e:  # SyntaxError, ImportError, the user's own errors, sys.exit, Ctrl-C
        sys.modules.pop(name, None)
        where = f" (line {e.lineno})" if isinstance(e, SyntaxError) and e.lineno else ""
        raise _failed(f"file {path}{where}", e) from None
    _DIGESTS[str(path)] = digest
    return module


def load_entry_points() -> list[str]:
    """Load the installed ``gankit.plugins`` entry points once per process; their names."""
    global _ENTRY_POINTS_DONE
    if _ENTRY_POINTS_DONE:
        return []
    _ENTRY_POINTS_DONE = True
    from importlib.metadata import entry_points

    names = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, ModuleType):
                obj()
        except _IMPORT_FAILURES as e:  # an installed package's error, one line naming it
            raise _failed(f"entry point {ep.name!r} ({ep.value})", e) from None
        names.append(ep.name)
    return names


def request(specs: Iterable[str], *, trust: bool = False) -> list[str]:
    """Load the ``--plugin`` plug-ins of this command and remember them for the config a new
    run is built from (:func:`gankit.config.load_config` adds them to ``plugins``) and as the
    user's permission to load them from a run directory (:func:`open_recorded`); ``trust``
    (``--trust-plugins``) also allows a run's recorded plug-ins whose content hash matches."""
    global _TRUST
    _REQUESTED.clear()  # a failed command's plug-ins never reach the next one's config
    _TRUST = False
    keys = load_all(specs)
    _REQUESTED[:] = keys
    _TRUST = trust
    return keys


def digests(keys: Iterable[str]) -> dict[str, str]:
    """The SHA-256 of each loaded plug-in of ``keys`` that has a source file, as a run records them."""
    return {k: _DIGESTS[k] for k in keys if k in _DIGESTS}


def open_recorded(specs: Any, hashes: Any, where: str | Path) -> list[str]:
    """Load the plug-ins a run directory records, as far as the user allows; their forms to
    put in the config that is then validated (all of them loaded).

    ``specs`` and ``hashes`` come from a file someone else may have written: a recorded
    plug-in is loaded only if this command allows it (``--plugin`` naming it, or a
    ``--plugin`` file of the same content, or ``--trust-plugins``), only from its recorded
    absolute path, and only if its SHA-256 is the recorded one (a run without recorded
    hashes, from before they were recorded, opens only with ``--plugin``). In Python, a
    plug-in already loaded in this process (:func:`load`, :func:`request`, a config built
    with ``plugins``) counts as allowed: accepting it runs nothing new. Anything else is a
    :class:`PluginRefused` naming the plug-in; nothing is executed."""
    if specs is None:
        return []
    if isinstance(specs, str):
        specs = [specs]
    if not isinstance(specs, list) or not all(isinstance(s, str) and s.strip() for s in specs):
        raise ConfigError(f"plugins: expected a list of module names or absolute paths, got {specs!r}")
    hashes = hashes if isinstance(hashes, dict) else {}
    return [_open_one(spec.strip(), hashes.get(spec.strip()), where) for spec in specs]


def _open_one(spec: str, expected: Any, where: str | Path) -> str:
    expected = expected if isinstance(expected, str) else None
    path = is_path(spec)
    if path and not Path(spec).is_absolute():  # gankit records absolute paths; never resolve one from here
        raise PluginRefused(f"{where} names plug-in {spec!r} by a relative path; it was not recorded by gankit "
                            "and is not loaded (to use a plug-in, pass --plugin /ITS/ABSOLUTE/PATH.py)")
    if path:
        _read_file(Path(spec))  # a plug-in file that is gone is a plain one-line error, as before
    now = _DIGESTS.get(spec)
    if spec in _REQUESTED or spec in _LOADED:  # named on this command line, or loaded in this process already
        if expected is not None and now is not None and now != expected:
            raise _changed(spec, expected, now)
        return spec
    if expected is not None:  # the same content passed with --plugin from elsewhere: that file stands in
        for key in _REQUESTED:
            if _DIGESTS.get(key) == expected:
                return key
    if not _TRUST:
        alt = " (or gankit --trust-plugins COMMAND ...)" if expected else ""
        raise PluginRefused(f"{where} names plug-in {spec}, which would run its code: not loaded; if you trust it, "
                            f"name it again: gankit --plugin {spec} COMMAND ...{alt}")
    if expected is None:
        raise PluginRefused(f"{where} records no content hash for plug-in {spec} (a run from an older gankit); "
                            f"--trust-plugins loads only plug-ins with a matching hash: pass --plugin {spec}")
    if path:
        _LOADED[spec] = _load_file(Path(spec), expected)
        return spec
    digest = _module_digest(spec)
    if digest != expected:
        raise _changed(spec, expected, digest)
    return load(spec)


def _changed(spec: str, expected: str, now: str | None) -> PluginRefused:
    found = f"{now[:12]}... now" if now else "no source file now"
    return PluginRefused(f"plug-in {spec} is not the one the run was trained with (SHA-256 {expected[:12]}... "
                         f"recorded, {found}); not loaded")


def requested() -> list[str]:
    """The recorded forms of this command's ``--plugin`` plug-ins."""
    return list(_REQUESTED)


def loaded() -> list[str]:
    """Every plug-in loaded in this process, recorded forms, in loading order."""
    return list(_LOADED)


__all__ = ["ENTRY_POINT_GROUP", "PluginRefused", "digests", "is_path", "load", "load_all", "load_entry_points",
           "loaded", "module_name", "open_recorded", "recorded", "request", "requested", "sha256"]
