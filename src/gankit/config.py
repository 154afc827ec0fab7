"""Typed run configuration.

A config is a tree of dataclasses. Its component sections, ``model`` (the recipe) and
``data``, are a registry name plus that entry's options, validated against the registered
factory's signature, so every option a user can set is exactly a keyword argument of the
code that uses it; the recipe's options hold its own components (``model.generator``,
``model.loss``), validated against their registries in turn. The old top-level spellings
(``loss: wgan``, ``--set generator.width=64``) are lifted into ``model`` (:func:`lift`).
Overrides come as dotted ``key=value`` pairs whose values are parsed as YAML (``lr=1e-4`` is
a float, ``betas=[0.5,0.9]`` a list). Unknown keys, wrong types and values out of range raise
:class:`ConfigError` naming the key: each field's hint carries its range
(:class:`gankit.registry.Bounds`), as the factories' signatures do for component options.

A run's config is layered (:func:`config_layers`): the ``base`` preset < the ``default`` preset
or a named one (``--preset``) < a config file (``--config``) < ``--set`` overrides; :func:`resolve_config`
also says which layer set each key. Each field's ``help`` metadata is its one-line meaning
(:func:`section_options`, read by ``gankit list train``).
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
from gankit.registry import (Bounds, Component, Count, Fraction, NonNegative, NonNegativeInt, Of, Positive, Registry, Seed,
                             coerce)


def _opt(default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = dataclasses.MISSING) -> Any:
    """A config field with its one-line meaning: validation reads the hint, ``gankit list``
    the hint, the default and this help (:func:`section_options`)."""
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass
class OptimConfig:
    """An optimiser (``optim_g`` for G, and the encoder of an AAE; ``optim_d`` for D)."""

    name: Literal["adam", "sgd", "rmsprop"] = _opt("adam", "the optimiser")
    lr: Positive = _opt(2e-4, "learning rate (the base of train.lr_decay's schedule)")
    betas: tuple[Fraction, Fraction] = _opt((0.5, 0.999), "Adam's (beta1, beta2)")
    momentum: Fraction = _opt(0.0, "momentum of sgd and rmsprop")
    weight_decay: NonNegative = _opt(0.0, "L2 weight decay")


# Upper bounds on sizes that otherwise fail only deep inside torch (batch_size=1e10 asks for
# 80 GB in the first step) or never finish (1e10 critic steps a step): far past any real run.
Batch = Annotated[int, Bounds(ge=1), Bounds(le=1 << 20)]  # two Bounds: each message names its own side
Repeats = Annotated[int, Bounds(ge=1), Bounds(le=1000)]


@dataclasses.dataclass
class TrainConfig:
    """The training loop: length, batch, update schedule, logging, checkpoints, speed."""

    steps: Count = _opt(3000, "generator steps (training iterations); the lr schedule's length")
    batch_size: Batch = _opt(256, "samples per step (the global batch under torchrun)")
    d_steps: Repeats = _opt(1, "k: discriminator steps per generator step (WGAN's n_critic)")
    g_steps: Repeats = _opt(1, "generator steps per iteration")
    update: Literal["alternating", "simultaneous"] = _opt(
        "alternating", "alternating: D then G; simultaneous: every phase's gradient at the same parameters")
    lr_decay: Literal["none", "linear", "cosine"] = _opt(
        "none", "learning-rate factor over train.steps (linear/cosine decay to 0)")
    lr_final: Annotated[float, Bounds(ge=0, le=1)] = _opt(
        0.0, "learning rate at the end of train.lr_decay's schedule, a fraction of optim lr (R3GAN: 0.25)")
    beta2_final: Fraction | None = _opt(
        None, "Adam's beta2 at the end, moved from optim beta2 along train.lr_decay's shape (R3GAN: 0.99 -> 0.999)")
    penalty_final: NonNegative | None = _opt(
        None, "the penalty's strength (gamma, weight) at the end, a fraction of its start, along "
              "train.lr_decay's shape (R3GAN: 0.1)")
    ema: Fraction = _opt(0.0, "EMA decay of G's weights (0 = off), e.g. 0.999; evaluation and samples use the EMA")
    ema_start: NonNegativeInt = _opt(0, "step from which the EMA tracks G")
    ema_half_life: NonNegative = _opt(
        0.0, "EMA of G by its half-life in images instead of train.ema's decay (0 = off; StyleGAN2, R3GAN: 10,000)")
    ema_rampup: NonNegative = _opt(
        0.0, "with train.ema_half_life: at most this fraction of the images seen so far (0 = off; StyleGAN2: 0.05)")
    log_every: Count = _opt(50, "metrics.jsonl rows and progress-bar refresh, every N steps")
    eval_every: NonNegativeInt = _opt(0, "periodic metrics during training every N steps (0 = only at the end)")
    checkpoint_every: NonNegativeInt = _opt(
        1000, "checkpoint every N steps (0 = only by time, at the end and on Ctrl-C)")
    checkpoint_seconds: NonNegative = _opt(120.0, "... and at least this often in wall time, seconds (0 = off)")
    max_hours: NonNegative = _opt(
        24.0, "refuse a run whose first steps' speed says it would train longer than this, hours (0 = no limit)")
    extend: list[Count] = _opt(
        factory=list, help="end steps of extensions past train.steps (gankit resume --steps): each restarts "
                           "the lr schedule over its span")
    standardize: bool = _opt(False, "point data: train on (x - mean) / std, sample in the data's units")
    threads: NonNegativeInt = _opt(
        0, "torch CPU threads (0 = gankit chooses: 1 for MLPs on point data, all cores for images; "
           "OMP_NUM_THREADS wins)")
    sample_every: NonNegativeInt = _opt(0, "image grids from a fixed noise batch every N steps (0 = only at the end)")
    progress: bool = _opt(True, "progress bar and phase messages on stderr")
    tensorboard: bool = _opt(False, "also log losses, metrics and grids to RUN/tensorboard")
    precision: Literal["fp32", "bf16", "fp16"] = _opt("fp32", "autocast dtype (gankit.engine.precision)")
    compile: bool = _opt(False, "torch.compile the networks (gankit.engine.fastpath)")
    channels_last: bool = _opt(False, "NHWC memory order for convolutional networks and image batches")
    data_on_device: bool = _opt(True, "keep a finite data set on the training device (one copy)")
    sync_batchnorm: bool = _opt(False, "SyncBatchNorm across processes (torchrun; CUDA only)")
    tf32: bool = _opt(True, "CUDA: TF32 tensor cores for fp32 matmuls and convolutions (Ampere and newer)")
    deterministic: bool = _opt(False, "deterministic kernels (cuDNN, cuBLAS workspace): exact GPU resume, slower")


# Every metric compares two samples; with one, the unbiased estimators divide by n - 1 = 0.
EvalSamples = Annotated[int, Bounds(ge=2), Bounds(le=10_000_000)]


@dataclasses.dataclass
class EvalConfig:
    """The final evaluation (and train.eval_every's)."""

    metrics: list[str] | None = _opt(
        None, "metric names (gankit list metrics); null = the recipe's or the data kind's defaults; [] = none")
    num_samples: EvalSamples = _opt(2500, "generated samples per evaluation")
    seed: Seed = _opt(1234, "seed of the evaluation's samples (the same numbers on every re-evaluation)")
    inception: str | None = _opt(None, "Inception-v3 weights file (default: the gankit[inception] extra's; "
                                       "docs/inception.md)")
    inception_resize: Literal["clean", "legacy"] = _opt(
        "clean", "resize to 299 px for Inception: clean (PIL bicubic) or legacy (bilinear, as pytorch-fid)")
    fid_reference: str | None = _opt(None, "FID against this gankit data stats file instead of the real subset")


@dataclasses.dataclass
class Config:
    """A whole run. Component sections are a registry name plus that entry's options."""

    name: str | None = _opt(None, "the run directory's name under out_dir (a plain name, no path); "
                                  "null = <model>-<loss>-<data>-<time>")
    seed: Seed = _opt(0, "seed of the networks' initialisation, the data order and the latents")
    device: str = _opt("auto", "auto (CUDA when present), cpu, cuda, cuda:N")
    out_dir: str = _opt("runs", "where new run directories go")
    model: Component = _opt(factory=lambda: Component("gan"),
                            help="the recipe (gan, aae, pix2pix, ...) and its own options: its networks, latent, "
                                 "loss, penalty, mitigations (gankit list models)")
    data: Component = _opt(factory=lambda: Component("ring"), help="the data set (gankit list datasets)")
    train: TrainConfig = _opt(factory=TrainConfig, help="the training loop (gankit list train)")
    optim_g: OptimConfig = _opt(factory=OptimConfig, help="G's optimiser (gankit list optim)")
    optim_d: OptimConfig = _opt(factory=OptimConfig, help="D's optimiser (gankit list optim)")
    eval: EvalConfig = _opt(factory=EvalConfig, help="the evaluation (gankit list eval)")
    plugins: list[str] = _opt(factory=list, help="plug-in modules or .py files (gankit --plugin) loaded before the "
                                                 "config is validated; a run records them to reopen")
    plugin_hashes: dict[str, str] = _opt(factory=dict, help="the SHA-256 of each plug-in's source, recorded by "
                                                            "gankit (a reopened run loads only matching plug-ins)")

    def __setattr__(self, key: str, value: Any) -> None:
        # A key that moved into the recipe's options (cfg.loss = ...) must not become a new,
        # silently unused attribute.
        if key not in _CONFIG_FIELDS:
            where = f"; it is a recipe option now: cfg.model.options[{key!r}]" if key in RECIPE_KEYS else ""
            raise AttributeError(f"Config has no key {key!r}{where}")
        super().__setattr__(key, value)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Component):
                out[f.name] = v.to_dict()  # a recipe's components nested inside its own
            elif dataclasses.is_dataclass(v):
                out[f.name] = {k: (list(x) if isinstance(x, tuple) else x) for k, x in dataclasses.asdict(v).items()}
            else:
                out[f.name] = copy.deepcopy(v)
        return out


_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))


def component_registries() -> dict[str, Registry[Any]]:
    """The registry that validates each top-level component section: the recipe (``model``,
    whose own options hold its networks, loss and the rest) and the data set."""
    from gankit.data import DATASETS
    from gankit.recipes import RECIPES

    return {"model": RECIPES, "data": DATASETS}


# Keys that once sat at the top level of a config and belong to the recipe: each layer (and
# every config.yaml written before they moved) is read with them moved into ``model``
# (:func:`lift`), so ``--set loss=wgan`` still spells ``model.loss=wgan``. ``aae:`` held the
# AAE's own two options.
RECIPE_KEYS = ("conditional", "latent_dim", "generator", "discriminator", "prior", "encoder", "loss", "penalty",
               "mitigations")
# The recipe and data set a config names when it names none (Config's own defaults).
DEFAULT_NAMES = {f.name: f.default_factory().name for f in dataclasses.fields(Config)
                 if f.default_factory is not dataclasses.MISSING and isinstance(f.default_factory(), Component)}


def lift(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` with the recipe's keys written at the top level (``loss: wgan``, ``aae:
    {supervised: true}``) moved into ``model`` (``model.loss``, ``model.supervised``). A key
    given both ways in one mapping is an error; across layers the later layer wins
    (:func:`merge` lifts each side first)."""
    out = dict(raw)
    moved = {k: out.pop(k) for k in RECIPE_KEYS if k in out}
    aae = out.pop("aae", None)
    if aae is not None:
        if not isinstance(aae, Mapping):
            raise ConfigError(f"aae must be a mapping, got {aae!r}")
        moved.update(aae)
    if not moved:
        return out
    model = out.get("model")
    model = {"name": model} if isinstance(model, str) else {} if model is None else model
    if not isinstance(model, Mapping):
        raise ConfigError(f"model must be a name or a mapping with 'name', got {model!r}")
    twice = sorted(k for k in moved if k in model)
    if twice:  # one mapping saying it twice: neither may silently win
        raise ConfigError(f"{twice[0]} is set twice, at the top level and as model.{twice[0]}; set it once")
    out["model"] = {**model, **moved}
    return out


def recorded_keys(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A config written by an earlier gankit (``config.yaml``, a checkpoint) in today's form:
    lifted (:func:`lift`), and without the recipe-level keys its recipe does not take (every
    key was recorded then, ``encoder`` and ``aae`` in a GAN run's too)."""
    old = any(k in raw for k in (*RECIPE_KEYS, "aae"))
    out = lift(raw)
    if old and isinstance(out.get("model"), Mapping):
        model = dict(out["model"])
        takes = _recipe_options(model.get("name", DEFAULT_NAMES["model"]))
        if takes is not None:
            model = {k: v for k, v in model.items()
                     if k in takes or k not in (*RECIPE_KEYS, "adversarial", "supervised")}
        out["model"] = model
    return out


def _recipe_options(name: Any) -> set[str] | None:
    """The option names recipe ``name`` takes, or None for a name no recipe has (the
    validation that follows says so in one line)."""
    registry = component_registries()["model"]
    if not isinstance(name, str) or name not in registry:
        return None
    return set(registry.entry(name).options(registry.context))


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
    return _merge(lift(base), lift(override), top=True)  # the recipe's keys in model on both sides first


def _merge(base: Mapping[str, Any], override: Mapping[str, Any], *, top: bool = False) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and k in out and not isinstance(out[k], dict):
            out[k] = _section_as_mapping(k, out[k]) if top else _short_form(k, out[k])
        if isinstance(v, str) and isinstance(out.get(k), dict) and \
                (k in DEFAULT_NAMES if top else k != "mitigations" and "name" in out[k]):
            v = {"name": v}  # a component named in its short form (model=aae, generator=dcgan)
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            # Switching a component's name drops the old entry's options: they belong to it.
            # Switching the recipe keeps those the new one also takes (its networks, latent,
            # loss: model=aae on base keeps base's MLPs), and drops the rest.
            old = out[k].get("name", DEFAULT_NAMES.get(k) if top else None)
            if "name" in v and old is not None and v["name"] != old:
                out[k] = _shared_options(out[k], v["name"]) if top and k == "model" else {}
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _shared_options(old: Mapping[str, Any], recipe: str) -> dict[str, Any]:
    """The options of the recipe switched from that recipe ``recipe`` also takes."""
    takes = _recipe_options(recipe) or set()
    return {k: copy.deepcopy(v) for k, v in old.items() if k in takes}


def _short_form(key: str, value: Any) -> Any:
    """A component written as its name (``prior: normal``) or mitigations as a list of names,
    as the mapping an override merges into."""
    if isinstance(value, str):
        return {value: {}} if key == "mitigations" else {"name": value}
    if key == "mitigations" and isinstance(value, list) and all(isinstance(n, str) for n in value):
        return {n: {} for n in value}
    if value is None:
        return {}
    return value


def _section_as_mapping(key: str, value: Any) -> Any:
    """The mapping form of a top-level section's short form; other keys' values unchanged."""
    if value is None and key in _SECTIONS:
        return {}
    if key in component_registries():
        if isinstance(value, str):
            return {"name": value}
        raise ConfigError(f"{key} must be a name or a mapping with 'name', got {value!r}")
    if key in _SECTIONS:
        raise ConfigError(f"{key} must be a mapping, got {value!r}")
    return value


# Top-level keys whose value is a mapping of options (components, mitigations, dataclass sections).
_SECTIONS = ("model", "data", "train", "optim_g", "optim_d", "eval")


def build_config(raw: Mapping[str, Any] | None = None, *, resolve: bool = True) -> Config:
    """Validate a nested dict into a :class:`Config`; with ``resolve`` fill every default."""
    raw = dict(raw or {})
    # Plug-ins first: the rest of the config may name components only they register.
    found = _plugins(raw.get("plugins"))
    raw = lift(raw)
    if "plugins" in raw:
        raw["plugins"] = found
    cfg = Config()
    fields = {f.name: f for f in dataclasses.fields(Config)}
    registries = component_registries()
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"unknown config key {key!r} (keys: {', '.join(fields)})")
        if key in registries:
            setattr(cfg, key, _component(key, value, getattr(cfg, key), registries[key], resolve))
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


def check_config(cfg: Config) -> None:
    """Raise :class:`ConfigError` unless every value of ``cfg`` is valid, alone and together.

    Every value is checked against its field's hint again (type and range): a Config built or
    changed in Python never went through :func:`coerce`. Component options are resolved
    against their registries (defaults filled in place). A config already checked and not
    changed since (:func:`is_checked`) is not checked again.
    """
    if is_checked(cfg):
        return
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
    ramped = [k for k in ("beta2_final", "penalty_final") if getattr(t, k) is not None] + (["lr_final"] if t.lr_final else [])
    if ramped and t.lr_decay == "none":
        raise ConfigError(f"train.{ramped[0]} follows train.lr_decay's schedule: set train.lr_decay=cosine (or linear)")
    if t.ema_half_life and t.ema:
        raise ConfigError("train.ema (a decay per step) and train.ema_half_life (in images) exclude each other")
    if t.ema_rampup and not t.ema_half_life:
        raise ConfigError("train.ema_rampup needs train.ema_half_life")
    if cfg.name is not None:
        check_run_name(cfg.name)
    if cfg.eval.metrics is not None:
        from gankit.metrics import METRICS

        for m in cfg.eval.metrics:
            METRICS.entry(m)
    cfg.__dict__["_checked"] = _fingerprint(cfg)  # beside the fields: not a config key


def is_checked(cfg: Config) -> bool:
    """Whether :func:`check_config` passed on ``cfg`` exactly as it is now (a config built by
    :func:`build_config` and not changed in Python since), so a run validates it once."""
    return cfg.__dict__.get("_checked") == _fingerprint(cfg)


def _fingerprint(cfg: Config) -> str:
    import json

    return json.dumps(cfg.to_dict(), sort_keys=True, default=repr)


def _plugins(value: Any) -> list[str]:
    """Load the plug-ins ``value`` names (and, once, the installed ``gankit.plugins`` entry
    points) before anything is validated; their recorded forms (:mod:`gankit.plugins`)."""
    from gankit import plugins

    plugins.load_entry_points()
    if value is None:
        return []
    return plugins.load_all(coerce([value] if isinstance(value, str) else value, list[str], "plugins"))


def recorded_config(raw: Any, *, where: str | Path) -> dict[str, Any]:
    """A config read from a run directory (``where``), ready for :func:`build_config`: its
    plug-ins loaded only as far as this command allows (:func:`gankit.plugins.open_recorded`),
    so that validating it never executes code the user did not name."""
    from gankit import plugins

    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a mapping of config keys, got {type(raw).__name__}")
    raw = dict(raw)
    plugins.load_entry_points()
    if "plugins" in raw:
        raw["plugins"] = plugins.open_recorded(raw["plugins"], raw.get("plugin_hashes"), where)
    return recorded_keys(raw)


def _check_values(cfg: Config) -> None:
    from gankit import plugins

    cfg.plugins = _plugins(cfg.plugins)  # a Config built in Python: its plug-ins before its components
    cfg.plugin_hashes = plugins.digests(cfg.plugins)  # what was loaded, never what a file claims
    hints = typing.get_type_hints(Config, include_extras=True)
    registries = component_registries()
    for f in dataclasses.fields(Config):
        value = getattr(cfg, f.name)
        if f.name in registries:
            if not isinstance(value, Component):
                raise ConfigError(f"{f.name} must be a Component, got {value!r}")
            value.options = registries[f.name].resolve(value.name, value.options, where=f.name)
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
BASE_PRESET = "base"


# The layers of a run's config, lowest first; each merges into the ones below it, so a layer
# sets only what it changes. Switching a component's name (``loss: wgan``) drops the options
# the layers below gave the old entry (:func:`merge`).
LAYER_ORDER = ("base", "default | image default | preset NAME", "file PATH", "--set")
CODE_DEFAULT = "built-in default"


def preset_config(name: str = DEFAULT_PRESET) -> dict[str, Any]:
    """The raw config of preset ``name`` as a run gets it: ``base`` with the preset on top
    (``default``: the default run)."""
    base = lift(load_preset(BASE_PRESET))
    return base if name == BASE_PRESET else merge(base, lift(load_preset(name)))


def config_layers(file: str | Path | None = None, overrides: Iterable[str] = (),
                  preset: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``[(source, raw mapping), ...]`` in :data:`LAYER_ORDER`: the base preset, the default
    preset (for a model=gan run) or the named one (``--preset``), the config file
    (``--config``), the ``--set`` overrides; each with the recipe's keys in ``model``
    (:func:`lift`)."""
    return [(source, lift(layer)) for source, layer in _layers(file, overrides, preset)]


def _layers(file: str | Path | None, overrides: Iterable[str], preset: str | None) -> list[tuple[str, dict[str, Any]]]:
    upper: list[tuple[str, dict[str, Any]]] = []
    if preset is not None and preset not in (DEFAULT_PRESET, BASE_PRESET):
        upper.append((f"preset {preset}", load_preset(preset)))
    if file is not None:
        upper.append((f"file {file}", load_file(file)))
    sets = parse_overrides(overrides)
    if sets:
        upper.append(("--set", sets))
    layers = [("base", load_preset(BASE_PRESET))]
    # the default preset is the default *GAN* run (its prior, penalty, EMA and rejection
    # sampling are the gan recipe's): a run that names another model starts from base alone;
    # a GAN run on images without a preset gets the image default instead (gankit.image_default)
    if preset in (None, DEFAULT_PRESET) and _model_name(upper) == "gan":
        image = image_default_layers(upper) if preset is None else None
        if image is None:
            layers.append(("default", load_preset(DEFAULT_PRESET)))
        else:
            below, size = image
            return layers + [(IMAGE_DEFAULT, below)] + upper + ([(IMAGE_DEFAULT, {"data": size})] if size else [])
    return layers + upper


IMAGE_DEFAULT = "image default"


def image_default_layers(upper: list[tuple[str, dict[str, Any]]]
                         ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """The image default's layer below the user's and, when the user sets no ``data.size``, the
    size it chose (a layer above theirs: naming the data set drops options set below it); None
    unless the layers name an image data set."""
    from gankit import image_default

    data: dict[str, Any] = {}
    for _, layer in upper:
        if "data" in layer:
            data = merge({"data": data}, {"data": layer["data"]})["data"]
    data = dict(data) if isinstance(data, Mapping) else _section_as_mapping("data", data)
    if not data:
        return None
    facts = image_default.data_facts(data)
    if facts is None or facts[0] != "images":
        return None
    chosen = image_default.layer(facts)
    size = chosen.pop("data", None)
    from gankit.data import DATASETS

    name = str(data.get("name", "")).split(":", 1)[0]
    if size is None or "size" in data or "size" not in DATASETS.entry(name).options():
        size = None
    return chosen, size


def image_default_line(file: str | Path | None = None, overrides: Iterable[str] = (),
                       preset: str | None = None) -> str | None:
    """The one line that says what the image default chose, or None when it does not apply."""
    from gankit import image_default

    layers = config_layers(file, overrides, preset)
    if not any(source == IMAGE_DEFAULT for source, _ in layers):
        return None
    raw: dict[str, Any] = {}
    for _, layer in layers:
        raw = merge(raw, layer)
    data = dict(raw["data"]) if isinstance(raw["data"], Mapping) else _section_as_mapping("data", raw["data"])
    facts = image_default.data_facts({k: v for k, v in data.items() if k != "size"})
    if facts is None:
        return None
    chosen = image_default.layer(facts)
    chosen["data"] = {"size": data.get("size", chosen.get("data", {}).get("size", facts[2]))}
    return image_default.describe(facts, chosen)


def _model_name(layers: list[tuple[str, dict[str, Any]]]) -> str:
    """The model the layers end up naming (``gan`` if none does)."""
    name = "gan"
    for _, layer in layers:
        model = layer.get("model")
        if isinstance(model, Mapping):
            model = model.get("name", name)
        if isinstance(model, str) and model:
            name = model.split(":", 1)[0]
    return name


def load_config(file: str | Path | None = None, overrides: Iterable[str] = (),
                preset: str | None = None) -> Config:
    """base preset < default preset or ``preset`` < ``file`` (YAML or JSON) < ``overrides``, fully resolved."""
    return resolve_config(file, overrides, preset)[0]


def resolve_config(file: str | Path | None = None, overrides: Iterable[str] = (),
                   preset: str | None = None) -> tuple[Config, dict[str, str]]:
    """The resolved config and, for every dotted key of ``cfg.to_dict()``, the layer that set
    it (``default``, ``preset NAME``, ``file PATH``, ``--set``) or ``built-in default``."""
    raw: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, layer in config_layers(file, overrides, preset):
        raw = merge(raw, layer)
        present = _flatten(raw)
        sources = {k: v for k, v in sources.items() if k in present}  # dropped with a switched name
        sources.update({k: source for k in _flatten(merge({}, layer))})
    from gankit import plugins

    if plugins.requested():  # `gankit --plugin X train ...`: recorded in the run's config
        raw["plugins"] = [*_plugins(raw.get("plugins")), *plugins.requested()]
        sources["plugins"] = "--plugin" if sources.get("plugins") is None else f"{sources['plugins']} + --plugin"
    cfg = build_config(raw)
    shorthand = {k for k, v in raw.items() if k in component_registries()  # data=folder:PATH sets data.path
                 and ":" in str(v.get("name", "") if isinstance(v, Mapping) else v)}
    out = {}
    for key in _flatten(cfg.to_dict()):
        section = key.split(".", 1)[0]
        fallback = (sources.get(f"{section}.name", CODE_DEFAULT) if section in shorthand and key == f"{section}.path"
                    else CODE_DEFAULT)
        out[key] = sources.get(key) or _short_form_source(key, sources) or fallback
    return cfg, out


def _short_form_source(key: str, sources: Mapping[str, str]) -> str | None:
    """The layer that set a component's name through its short form (``loss: ns`` sets
    ``model.loss.name``); its options are then the built-in defaults."""
    return sources.get(key[:-len(".name")]) if key.endswith(".name") else None


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"steps": 5}}`` -> ``{"train.steps": 5}``; short forms expanded at the top
    (``loss: wgan`` is ``loss.name``); lists and empty mappings are values."""
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if not prefix and not isinstance(v, Mapping) and k in _SECTIONS:
            v = _section_as_mapping(k, v)
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def load_preset(name: str) -> dict[str, Any]:
    from importlib import resources

    path = resources.files("gankit") / "presets" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(preset_names())}")
    return yaml.safe_load(path.read_text()) or {}


@dataclasses.dataclass(frozen=True)
class Option:
    """One settable key: its dotted name, type (with range), default and one-line meaning."""

    key: str
    type: str
    default: Any
    help: str


def _one_range(bounds: list[Bounds]) -> Bounds:
    """A hint's several Bounds (a lower and an upper one) as one, so it reads ``in [1, 1048576]``."""
    sides = ("ge", "gt", "le", "lt")
    return Bounds(**{k: next((getattr(b, k) for b in bounds if getattr(b, k) is not None), None) for k in sides})


def describe_hint(hint: Any) -> str:
    """``int >= 1`` for ``Count``, ``'adam' | 'sgd' | 'rmsprop'``, ``list[str] | None``: how
    ``gankit list`` spells a hint, range included."""
    from gankit.registry import _name

    text = _name(hint)
    of = next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Of)), None)
    if of is not None:  # a recipe's component: a registry name and its options
        plural = {"loss": "losses", "penalty": "penalties"}.get(of.kind, f"{of.kind}s")
        return (f"{of.kind} names -> their options (gankit list {plural})" if of.many else
                f"a name + its options (gankit list {plural})")
    if typing.get_origin(hint) is Annotated:
        bounds = [m for m in hint.__metadata__ if isinstance(m, Bounds)]
        text = f"{text} {_one_range(bounds).describe()}" if bounds else text
    elif typing.get_origin(hint) in (tuple, list) and typing.get_args(hint):
        inner = {describe_hint(a) for a in typing.get_args(hint) if a is not Ellipsis}
        ranges = {t.split(" ", 1)[1] for t in inner if " " in t and not t.startswith("'")}
        if len(ranges) == 1:
            text += f", each {ranges.pop()}"
    return text


def section_options(cls: type, prefix: str = "") -> list[Option]:
    """Every field of config dataclass ``cls`` (:class:`TrainConfig`, ...) as an :class:`Option`:
    the hint validation checks against, the dataclass default and the field's help."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        kind = describe_hint(hints[f.name])
        if isinstance(default, Component):
            default, kind = default.name, "a registered name + its options"
        elif dataclasses.is_dataclass(default):
            default, kind = None, "section"
        out.append(Option(f"{prefix}{f.name}", kind, default, f.metadata.get("help", "")))
    return out


@dataclasses.dataclass(frozen=True)
class PresetInfo:
    """A preset's header: what it trains and what it was measured to reach (``# trains:`` and
    ``# measured:`` comment lines), and the rest of its leading comments."""

    name: str
    trains: str
    measured: str
    description: str


def preset_names() -> list[str]:
    from importlib import resources

    return sorted(p.name[:-5] for p in (resources.files("gankit") / "presets").iterdir() if p.name.endswith(".yaml"))


def preset_info(name: str) -> PresetInfo:
    """The header of preset ``name``: its leading ``#`` lines; ``# trains: ...`` and
    ``# measured: ...`` (each continued on the following ``#   `` lines) are fields."""
    from importlib import resources

    load_preset(name)  # unknown name: one line listing the presets
    text = (resources.files("gankit") / "presets" / f"{name}.yaml").read_text()
    fields: dict[str, list[str]] = {"trains": [], "measured": [], "description": []}
    current = "description"
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        head, sep, rest = body.partition(":")
        if sep and head in ("trains", "measured"):
            current, body = head, rest.strip()
        elif current != "description" and not line.startswith("#   "):
            current = "description"
        fields[current].append(body)
    joined = {k: " ".join(x for x in v if x) for k, v in fields.items()}
    trains = joined["trains"] or joined["description"].split(". ", 1)[0].rstrip(".")  # no trains: line
    return PresetInfo(name, trains, joined["measured"] or "not stated in the preset", joined["description"])
