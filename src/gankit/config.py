"""Typed run configuration.

A config is a tree of dataclasses. Component sections (``data``, ``generator``,
``discriminator``, ``prior``, ``loss``, ``penalty``) are a registry name plus that entry's
options, validated against the registered factory's signature, so every option a user can
set is exactly a keyword argument of the code that uses it. Overrides come as dotted
``key=value`` pairs whose values are parsed as YAML (``lr=1e-4`` is a float,
``betas=[0.5,0.9]`` a list). Unknown keys, wrong types and values out of range raise
:class:`ConfigError` naming the key: each field's hint carries its range
(:class:`gankit.registry.Bounds`), as the factories' signatures do for component options.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from gankit.errors import ConfigError
from gankit.registry import Bounds, Count, Fraction, NonNegative, NonNegativeInt, Positive, Registry, Seed, coerce


@dataclasses.dataclass
class Component:
    """A registry name and the options passed to its factory."""

    name: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.options}


@dataclasses.dataclass
class OptimConfig:
    name: Literal["adam", "sgd", "rmsprop"] = "adam"
    lr: Positive = 2e-4
    betas: tuple[Fraction, Fraction] = (0.5, 0.999)
    momentum: Fraction = 0.0
    weight_decay: NonNegative = 0.0


@dataclasses.dataclass
class TrainConfig:
    steps: Count = 3000               # generator steps (training iterations)
    batch_size: Count = 256
    d_steps: Count = 1                # k: discriminator steps per generator step (n_critic)
    g_steps: Count = 1
    update: Literal["alternating", "simultaneous"] = "alternating"
    lr_decay: Literal["none", "linear", "cosine"] = "none"  # learning-rate factor over train.steps
    ema: Fraction = 0.0               # EMA decay of G's weights (0 = off), e.g. 0.999
    ema_start: NonNegativeInt = 0     # step from which the EMA tracks G
    log_every: Count = 50             # metrics.jsonl / progress-bar refresh
    eval_every: NonNegativeInt = 0    # periodic metrics during training (0 = only at the end)
    checkpoint_every: NonNegativeInt = 1000  # checkpoint every N steps (0 = only by time, at the end and on Ctrl-C)
    checkpoint_seconds: NonNegative = 120.0  # ... and at least this often in wall time (0 = off)
    extend: list[Count] = dataclasses.field(default_factory=list)  # end steps of extensions past train.steps (gankit resume --steps): each restarts the lr schedule over its span
    standardize: bool = False         # point data: train on (x - mean) / std, sample in the data's units
    threads: NonNegativeInt = 0       # torch CPU threads (0 = gankit chooses: 1 for MLPs on point data, all cores for images; OMP_NUM_THREADS wins)
    sample_every: NonNegativeInt = 0  # image grids from a fixed noise batch (0 = only at the end)
    progress: bool = True
    tensorboard: bool = False
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # autocast dtype (gankit.training.precision)
    compile: bool = False             # torch.compile the networks (gankit.training.fastpath)
    channels_last: bool = False       # NHWC memory order for convolutional networks and image batches
    data_on_device: bool = True       # keep a finite data set on the training device (one copy)
    sync_batchnorm: bool = False      # SyncBatchNorm across processes (torchrun; CUDA only)


# Every metric compares two samples; with one, the unbiased estimators divide by n - 1 = 0.
EvalSamples = Annotated[int, Bounds(ge=2)]


@dataclasses.dataclass
class EvalConfig:
    metrics: list[str] | None = None  # None = the data kind's defaults
    num_samples: EvalSamples = 2500
    seed: Seed = 1234
    inception: str | None = None      # TorchScript Inception file for Inception-FID


@dataclasses.dataclass
class AAEConfig:
    """Adversarial autoencoder options (``model=aae``; Makhzani et al. 2015)."""

    adversarial: bool = True          # the regularisation phase (false = a plain autoencoder)
    supervised: bool = False          # each label picks its prior component (Makhzani et al. 2015)


@dataclasses.dataclass
class Config:
    name: str | None = None           # the run directory's name under out_dir (a plain name, no path)
    seed: Seed = 0
    device: str = "auto"
    out_dir: str = "runs"
    model: Literal["gan", "aae"] = "gan"
    conditional: bool = False
    latent_dim: Count = 2
    data: Component = dataclasses.field(default_factory=lambda: Component("ring"))
    generator: Component = dataclasses.field(default_factory=lambda: Component("mlp"))
    discriminator: Component = dataclasses.field(default_factory=lambda: Component("mlp"))
    prior: Component = dataclasses.field(default_factory=lambda: Component("normal"))
    encoder: Component = dataclasses.field(default_factory=lambda: Component("mlp"))  # model=aae: x -> z
    loss: Component = dataclasses.field(default_factory=lambda: Component("ns"))
    penalty: Component = dataclasses.field(default_factory=lambda: Component("none"))
    mitigations: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    optim_g: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    optim_d: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    aae: AAEConfig = dataclasses.field(default_factory=AAEConfig)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Component):
                out[f.name] = v.to_dict()
            elif dataclasses.is_dataclass(v):
                out[f.name] = {k: (list(x) if isinstance(x, tuple) else x) for k, x in dataclasses.asdict(v).items()}
            else:
                out[f.name] = copy.deepcopy(v)
        return out


def component_registries() -> dict[str, Registry[Any]]:
    """The registry that validates each component section."""
    from gankit.data import DATASETS
    from gankit.losses import LOSSES
    from gankit.losses.penalties import PENALTIES
    from gankit.networks import DISCRIMINATORS, ENCODERS, GENERATORS, PRIORS

    return {"data": DATASETS, "generator": GENERATORS, "discriminator": DISCRIMINATORS,
            "prior": PRIORS, "loss": LOSSES, "penalty": PENALTIES, "encoder": ENCODERS}


def parse_value(text: str) -> Any:
    """YAML scalar/list parsing of a ``--set`` value (``1e-4`` -> float, ``[1,2]`` -> list)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    # YAML 1.1 reads '1e-4' as a string; numbers written that way are meant as floats.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """``["train.steps=100", "loss=fgan"]`` -> nested dict."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"override {pair!r} is not of the form key=value")
        key, text = pair.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"override {pair!r} has an empty key")
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            if isinstance(node.get(p), str):  # 'loss=fgan' then 'loss.divergence=kl'
                node[p] = {"name": node[p]}
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {key!r} conflicts with another override")
        value = parse_value(text)
        if isinstance(node.get(parts[-1]), dict) and not isinstance(value, dict):
            node[parts[-1]]["name"] = value  # 'loss.divergence=kl' then 'loss=fgan'
        else:
            node[parts[-1]] = value
    return out


def load_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {p} is not UTF-8 text (byte {e.start}: {e.reason})") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"config file {p} is not valid YAML/JSON{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a mapping of keys to values")
    return data


def merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; a mapping merges into the mapping below it.

    Sections written in their short forms (``loss: fgan``, ``mitigations: [pack]``) are
    expanded first, so ``--set loss.divergence=kl`` adds to them; a section that is no
    mapping at all (``train: 5``) is an error rather than silently replaced by the override.
    """
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and k in out and not isinstance(out[k], dict):
            out[k] = _section_as_mapping(k, out[k])
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            # Switching a component's name drops the old entry's options: they belong to it.
            if "name" in v and v["name"] != out[k].get("name") and k in component_registries():
                out[k] = {}
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _section_as_mapping(key: str, value: Any) -> Any:
    """The mapping form of a top-level section's short form; other keys' values unchanged."""
    if value is None and key in _SECTIONS:
        return {}
    if key in component_registries():
        if isinstance(value, str):
            return {"name": value}
        raise ConfigError(f"{key} must be a name or a mapping with 'name', got {value!r}")
    if key == "mitigations":
        names = [value] if isinstance(value, str) else value
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return {n: {} for n in names}
        raise ConfigError(f"mitigations must be a mapping name -> options, got {value!r}")
    if key in _SECTIONS:
        raise ConfigError(f"{key} must be a mapping, got {value!r}")
    return value


# Top-level keys whose value is a mapping of options (components, mitigations, dataclass sections).
_SECTIONS = ("data", "generator", "discriminator", "prior", "encoder", "loss", "penalty", "mitigations",
             "train", "optim_g", "optim_d", "eval", "aae")


def build_config(raw: Mapping[str, Any] | None = None, *, resolve: bool = True) -> Config:
    """Validate a nested dict into a :class:`Config`; with ``resolve`` fill every default."""
    raw = dict(raw or {})
    cfg = Config()
    fields = {f.name: f for f in dataclasses.fields(Config)}
    registries = component_registries()
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"unknown config key {key!r} (keys: {', '.join(fields)})")
        if key in registries:
            setattr(cfg, key, _component(key, value, getattr(cfg, key), registries[key], resolve))
        elif key == "mitigations":
            cfg.mitigations = _mitigations(value)
        elif dataclasses.is_dataclass(getattr(cfg, key)):
            setattr(cfg, key, _section(key, value, type(getattr(cfg, key))))
        else:
            hint = typing.get_type_hints(Config, include_extras=True)[key]
            setattr(cfg, key, coerce(value, hint, key))
    if resolve:
        check_config(cfg)  # fills the components' defaults
    return cfg


def _component(key: str, value: Any, default: Component, registry: Registry[Any], resolve: bool) -> Component:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key} must be a name or a mapping with 'name', got {value!r}")
    opts = dict(value)
    name = opts.pop("name", default.name)
    if not isinstance(name, str):
        raise ConfigError(f"{key}.name must be a string, got {name!r}")
    # Shorthand 'folder:PATH' / 'npz:PATH' -> name=folder, path=PATH.
    if ":" in name and name.split(":", 1)[0] in registry:
        name, opts["path"] = name.split(":", 1)
    registry.entry(name)  # unknown name -> ConfigError listing the choices
    base = dict(default.options) if name == default.name else {}
    base.update(opts)
    return Component(name, base)


def _section(key: str, value: Any, cls: type) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key} must be a mapping, got {value!r}")
    hints = typing.get_type_hints(cls, include_extras=True)
    kwargs = {}
    for k, v in value.items():
        if k not in hints:
            raise ConfigError(f"unknown config key {key}.{k} (keys: {', '.join(hints)})")
        kwargs[k] = coerce(v, hints[k], f"{key}.{k}")
    return cls(**kwargs)


def _mitigations(value: Any) -> dict[str, dict[str, Any]]:
    from gankit.training.mitigations import MITIGATIONS

    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = {v: {} for v in value}
    if not isinstance(value, Mapping):
        raise ConfigError(f"mitigations must be a mapping name -> options, got {value!r}")
    out = {}
    for name, opts in value.items():
        opts = {} if opts in (None, True) else opts
        if not isinstance(opts, Mapping):
            raise ConfigError(f"mitigations.{name} must be a mapping of options, got {opts!r}")
        out[name] = MITIGATIONS.resolve(name, opts, where=f"mitigations.{name}")
    return out


def check_config(cfg: Config) -> None:
    """Raise :class:`ConfigError` unless every value of ``cfg`` is valid, alone and together.

    Every value is checked against its field's hint again (type and range): a Config built or
    changed in Python never went through :func:`coerce`. Component options are resolved
    against their registries (defaults filled in place).
    """
    _check_values(cfg)
    t = cfg.train
    for k in ("checkpoint_every", "threads"):
        if getattr(t, k) < 0:
            raise ConfigError(f"train.{k} must be >= 0, got {getattr(t, k)}")
    if not 0.0 <= t.checkpoint_seconds < float("inf"):
        raise ConfigError(f"train.checkpoint_seconds must be a finite number >= 0, got {t.checkpoint_seconds}")
    ends = [t.steps, *t.extend]
    if any(b <= a for a, b in zip(ends, ends[1:])):
        raise ConfigError(f"train.extend must hold increasing end steps after train.steps={t.steps}, got {t.extend}")
    if t.update == "simultaneous" and (t.d_steps != 1 or t.g_steps != 1):
        raise ConfigError("train.update=simultaneous needs train.d_steps=1 and train.g_steps=1")
    if cfg.name is not None:
        check_run_name(cfg.name)
    if cfg.eval.metrics is not None:
        from gankit.metrics import METRICS

        for m in cfg.eval.metrics:
            METRICS.entry(m)


def _check_values(cfg: Config) -> None:
    hints = typing.get_type_hints(Config, include_extras=True)
    registries = component_registries()
    for f in dataclasses.fields(Config):
        value = getattr(cfg, f.name)
        if f.name in registries:
            if not isinstance(value, Component):
                raise ConfigError(f"{f.name} must be a Component, got {value!r}")
            value.options = registries[f.name].resolve(value.name, value.options, where=f.name)
        elif f.name == "mitigations":
            cfg.mitigations = _mitigations(value)
        elif dataclasses.is_dataclass(value):
            for k, hint in typing.get_type_hints(type(value), include_extras=True).items():
                setattr(value, k, coerce(getattr(value, k), hint, f"{f.name}.{k}"))
        else:
            setattr(cfg, f.name, coerce(value, hints[f.name], f.name))


def check_run_name(name: str) -> None:
    """A run's name is one directory under ``out_dir``: ``--set name=../../x`` must not write elsewhere."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or Path(name).name != name:
        raise ConfigError(f"name must be a plain directory name (no path separators, not '.' or '..'), "
                          f"got {name!r}")


DEFAULT_PRESET = "default"


def load_config(file: str | Path | None = None, overrides: Iterable[str] = (),
                preset: str | None = None) -> Config:
    """Preset < file (YAML or JSON) < ``--set`` overrides; returns a fully resolved config.

    With neither a file nor a preset, the ``default`` preset (the tuned ring run) is the base.
    """
    if file is None and preset is None:
        preset = DEFAULT_PRESET
    raw: dict[str, Any] = {}
    if preset is not None:
        raw = merge(raw, load_preset(preset))
    if file is not None:
        raw = merge(raw, load_file(file))
    raw = merge(raw, parse_overrides(overrides))
    return build_config(raw)


def load_preset(name: str) -> dict[str, Any]:
    from importlib import resources

    path = resources.files("gankit") / "presets" / f"{name}.yaml"
    if not path.is_file():
        names = sorted(p.name[:-5] for p in (resources.files("gankit") / "presets").iterdir() if p.name.endswith(".yaml"))
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(names)}")
    return yaml.safe_load(path.read_text()) or {}
