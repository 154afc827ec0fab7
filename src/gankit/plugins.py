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
(``plugins:``, module names and absolute file paths), so ``gankit sample``, ``eval`` and
``resume`` load them again without being told. Loading is idempotent: a plug-in already
loaded in this process (by name or by file) is not executed again. A plug-in that is missing
or raises while loading is a one-line :class:`~gankit.errors.ConfigError` naming it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from gankit.errors import ConfigError

ENTRY_POINT_GROUP = "gankit.plugins"

_LOADED: dict[str, ModuleType] = {}     # recorded form (module name or absolute path) -> module
_REQUESTED: list[str] = []              # this process's --plugin ones, recorded forms
_ENTRY_POINTS_DONE = False


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
    _LOADED[key] = _load_file(Path(key), spec) if is_path(spec) else _load_module(key)
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
    first = (str(e).strip().splitlines() or [""])[0][:200]
    return ConfigError(f"plug-in {what} failed to load: {type(e).__name__}{': ' + first if first else ''}")


def _load_module(name: str) -> ModuleType:
    if name in sys.modules:  # imported already (by the user's own code, say): its registrations happened
        return sys.modules[name]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
            here = Path.cwd() / f"{name.replace('.', '/')}.py"
            hint = f" (to load the file in this directory, pass ./{here.name})" if here.is_file() else ""
            raise ConfigError(f"plug-in {name!r} not found: no module {e.name!r} on sys.path{hint}") from None
        raise _failed(repr(name), e) from None
    except Exception as e:  # noqa: BLE001 - whatever the user's module raises, one line naming it
        raise _failed(repr(name), e) from None


def module_name(path: Path) -> str:
    """A stable module name for a plug-in file: its stem and a hash of its absolute path."""
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"gankit_plugin_{stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:10]}"


def _load_file(path: Path, given: str) -> ModuleType:
    if not path.exists():
        raise ConfigError(f"plug-in file {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"plug-in file {path} is not a file")
    if path.suffix != ".py":
        raise ConfigError(f"plug-in file {path} must be a Python file ending in .py")
    name = module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"plug-in file {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses and pickling look the module up
    # gankit writes nothing beside the user's file (no __pycache__), as `python file.py` would not
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - SyntaxError, ImportError, the user's own errors
        sys.modules.pop(name, None)
        where = f" (line {e.lineno})" if isinstance(e, SyntaxError) and e.lineno else ""
        raise _failed(f"file {path}{where}", e) from None
    finally:
        sys.dont_write_bytecode = dont_write
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
        except Exception as e:  # noqa: BLE001 - an installed package's error, one line naming it
            raise _failed(f"entry point {ep.name!r} ({ep.value})", e) from None
        names.append(ep.name)
    return names


def request(specs: Iterable[str]) -> list[str]:
    """Load the ``--plugin`` plug-ins of this command and remember them for the config a new
    run is built from (:func:`gankit.config.load_config` adds them to ``plugins``)."""
    _REQUESTED.clear()  # a failed command's plug-ins never reach the next one's config
    keys = load_all(specs)
    _REQUESTED[:] = keys
    return keys


def requested() -> list[str]:
    """The recorded forms of this command's ``--plugin`` plug-ins."""
    return list(_REQUESTED)


def loaded() -> list[str]:
    """Every plug-in loaded in this process, recorded forms, in loading order."""
    return list(_LOADED)


__all__ = ["ENTRY_POINT_GROUP", "is_path", "load", "load_all", "load_entry_points", "loaded", "module_name",
           "recorded", "request", "requested"]
