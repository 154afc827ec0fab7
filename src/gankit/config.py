"""Typed run configuration.

A config is a tree of dataclasses. Component sections (``data``, ``generator``,
``discriminator``, ``prior``, ``loss``, ``penalty``) are a registry name plus that entry's
options, validated against the registered factory's signature, so every option a user can
set is exactly a keyword argument of the code that uses it. Overrides come as dotted
``key=value`` pairs whose values are parsed as YAML (``lr=1e-4`` is a float,
``betas=[0.5,0.9]`` a list). Unknown keys and wrong types raise :class:`ConfigError`
naming the key.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from gankit.errors import ConfigError
from gankit.registry import Registry, coerce


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
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    momentum: float = 0.0
    weight_decay: float = 0.0


@dataclasses.dataclass
class TrainConfig:
    steps: int = 3000                 # generator steps (training iterations)
    batch_size: int = 256
    d_steps: int = 1                  # k: discriminator steps per generator step (n_critic)
    g_steps: int = 1
    update: Literal["alternating", "simultaneous"] = "alternating"
    lr_decay: Literal["none", "linear", "cosine"] = "none"  # learning-rate factor over train.steps
    ema: float = 0.0                  # EMA decay of G's weights (0 = off), e.g. 0.999
    ema_start: int = 0                # step from which the EMA tracks G
    log_every: int = 50               # metrics.jsonl / progress-bar refresh
    eval_every: int = 0               # periodic metrics during training (0 = only at the end)
    checkpoint_every: int = 0         # periodic checkpoint (0 = only at the end)
    sample_every: int = 0             # image grids from a fixed noise batch (0 = only at the end)
    progress: bool = True
    tensorboard: bool = False
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # autocast dtype (gankit.training.precision)
    compile: bool = False             # torch.compile the networks (gankit.training.fastpath)
    channels_last: bool = False       # NHWC memory order for convolutional networks and image batches
    data_on_device: bool = True       # keep a finite data set on the training device (one copy)
    sync_batchnorm: bool = False      # SyncBatchNorm across processes (torchrun; CUDA only)


@dataclasses.dataclass
class EvalConfig:
    metrics: list[str] | None = None  # None = the data kind's defaults
    num_samples: int = 2500
    seed: int = 1234
    inception: str | None = None      # TorchScript Inception file for Inception-FID


@dataclasses.dataclass
class AAEConfig:
    """Adversarial autoencoder options (``model=aae``; Makhzani et al. 2015)."""

    adversarial: bool = True          # the regularisation phase (false = a plain autoencoder)
    supervised: bool = False          # each label picks its prior component (Makhzani et al. 2015)


@dataclasses.dataclass
class Config:
    name: str | None = None
    seed: int = 0
    device: str = "auto"
    out_dir: str = "runs"
    model: Literal["gan", "aae"] = "gan"
    conditional: bool = False
    latent_dim: int = 2
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
        data = yaml.safe_load(p.read_text())
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
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            # Switching a component's name drops the old entry's options: they belong to it.
            if "name" in v and v["name"] != out[k].get("name") and k in component_registries():
                out[k] = {}
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


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
            hint = typing.get_type_hints(Config)[key]
            setattr(cfg, key, coerce(value, hint, key))
    if resolve:
        for key, reg in registries.items():
            comp = getattr(cfg, key)
            comp.options = reg.resolve(comp.name, comp.options, where=key)
        _check(cfg)
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
    hints = typing.get_type_hints(cls)
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
    if isinstance(value, list):
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


def _check(cfg: Config) -> None:
    t = cfg.train
    for k in ("steps", "batch_size", "d_steps", "g_steps", "log_every"):
        if getattr(t, k) < 1:
            raise ConfigError(f"train.{k} must be >= 1, got {getattr(t, k)}")
    if not 0.0 <= t.ema < 1.0:
        raise ConfigError(f"train.ema must be in [0, 1), got {t.ema}")
    if t.update == "simultaneous" and (t.d_steps != 1 or t.g_steps != 1):
        raise ConfigError("train.update=simultaneous needs train.d_steps=1 and train.g_steps=1")
    for which in ("optim_g", "optim_d"):
        if getattr(cfg, which).lr <= 0:
            raise ConfigError(f"{which}.lr must be > 0")
    if cfg.latent_dim < 1:
        raise ConfigError(f"latent_dim must be >= 1, got {cfg.latent_dim}")
    if cfg.eval.metrics is not None:
        from gankit.metrics import METRICS

        for m in cfg.eval.metrics:
            METRICS.entry(m)


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
