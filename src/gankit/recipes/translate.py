"""Image-to-image translation as phases of the one loop: pix2pix and CycleGAN.

* ``model=pix2pix`` (Isola et al. 2017): a translator ``G: a -> b`` (U-Net) and a PatchGAN
  ``D`` on the channel-concatenated pair ``(a, b)``. Phase ``D`` minimises the configured
  objective (``loss``, default ``ns``: the paper's cross-entropy) on the patch logits of real
  pairs ``(a, b)`` against ``(a, G(a))``; phase ``G`` minimises
  ``gan * g_loss(D(a, G(a))) + l1 * mean |G(a) - b|`` (lambda = 100 in the paper). Both phases
  of a step see the same batch of pairs, as in the paper's code. ``gan=0`` drops D: the
  paper's "L1 alone" ablation, a regression network.
* ``model=cyclegan`` (Zhu et al. 2017): translators ``G: A -> B`` and ``F: B -> A`` and
  PatchGANs ``D_A``, ``D_B``. Phase ``G`` (G and F, one optimiser) minimises
  ``gan * (g_loss(D_B(G(a))) + g_loss(D_A(F(b))))`` + ``cycle * (|F(G(a)) - a| + |G(F(b)) - b|)``
  + ``identity * cycle * (|G(b) - b| + |F(a) - a|)`` (means of absolute values); phase ``D``
  (D_A and D_B) the objective on real images against fakes drawn from a history of the last
  ``pool`` translations (Shrivastava et al. 2017), whose contents and random state are saved
  with the run. The paper uses the least-squares objective (``loss=lsgan``; gankit's carries
  a factor 1/2 on G's term too, so ``gan=2`` restores the paper's balance, as the
  ``cyclegan-fashion`` preset sets), lambda = 10 and identity 0.5.

Optimisers are ``optim_g`` (translators) and ``optim_d`` (discriminators), the schedule
``train.lr_decay``; the networks are this module's options (``model.net``, ``model.width``,
``model.d_layers``, ...) built from :data:`gankit.networks.translation.TRANSLATORS` and
:data:`~gankit.networks.translation.PATCH_DISCRIMINATORS`.
"""

from __future__ import annotations

import math
from typing import Any, Literal, TYPE_CHECKING

import torch
from torch import Tensor, nn

from gankit.capabilities import Translates
from gankit.data.base import DataSource
from gankit.data.pairs import DomainsSource, PairedSource
from gankit.errors import ConfigError
from gankit.losses import LOSSES, Objective
from gankit.networks.translation import PATCH_DISCRIMINATORS, TRANSLATORS, Norm
from gankit.registry import Component, Count, Fraction, NonNegative, NonNegativeInt
from gankit.engine.loop import Logs, Phase, Trainer, make_optimizer
from gankit.recipes.base import RECIPES, LossOption, Recipe

if TYPE_CHECKING:
    from gankit.config import Config

Net = Literal["unet", "resnet"]


def l1(a: Tensor, b: Tensor) -> Tensor:
    """``mean |a - b|`` over every element (torch's L1Loss)."""
    return (a - b).abs().mean()


def cycle_loss(G: Any, F: Any, a: Tensor, b: Tensor, *, fake_a: Tensor | None = None,
               fake_b: Tensor | None = None) -> Tensor:
    """CycleGAN's cycle-consistency term ``mean|F(G(a)) - a| + mean|G(F(b)) - b|`` (Zhu et al. 2017,
    eq. 2); ``fake_b = G(a)`` and ``fake_a = F(b)`` when already computed."""
    fake_b = G(a) if fake_b is None else fake_b
    fake_a = F(b) if fake_a is None else fake_a
    return l1(F(fake_b), a) + l1(G(fake_a), b)


def identity_loss(G: Any, F: Any, a: Tensor, b: Tensor) -> Tensor:
    """CycleGAN's identity term ``mean|G(b) - b| + mean|F(a) - a|`` (Zhu et al. 2017, sec. 5.2; Taigman et al. 2017)."""
    return l1(G(b), b) + l1(F(a), a)


class ImagePool:
    """The last ``size`` generated images; a query returns, per image, either it (and stores it)
    or, with probability 1/2 once full, a stored one, which it replaces (Shrivastava et al. 2017;
    CycleGAN's ``ImagePool``). Its random choices have their own generator, saved with the pool."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.images: Tensor | None = None            # (k, C, H, W), k <= size
        self.rng = torch.Generator().manual_seed(seed)

    def query(self, x: Tensor) -> Tensor:
        if self.size == 0:
            return x
        x = x.detach()
        out = []
        for img in x:
            k = 0 if self.images is None else self.images.shape[0]
            if k < self.size:
                self.images = img[None].clone() if self.images is None else torch.cat([self.images, img[None]])
                out.append(img)
            elif torch.rand((), generator=self.rng) < 0.5:
                j = int(torch.randint(k, (), generator=self.rng))
                out.append(self.images[j].clone())
                self.images[j] = img
            else:
                out.append(img)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        return {"images": None if self.images is None else self.images.cpu(), "rng": self.rng.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        imgs = state.get("images")
        self.images = None if imgs is None else imgs.to(device)
        self.rng.set_state(state["rng"])


def _check(cfg: Config, model: str) -> None:
    if cfg.train.ema > 0 or cfg.train.ema_half_life > 0:
        raise ConfigError(f"train.ema is not supported for model={model}")
    t = cfg.train
    unsupported = [k for k, on in (("precision", t.precision != "fp32"), ("compile", t.compile),
                                   ("channels_last", t.channels_last), ("sync_batchnorm", t.sync_batchnorm)) if on]
    if unsupported:
        raise ConfigError(f"train.{unsupported[0]} is not supported for model={model} (the GAN recipe's fast paths)")


def _conv_sides(convs: list[nn.Conv2d], side: int) -> list[int]:
    """The feature-map side after each of ``convs`` on a ``side x side`` input (torch's formula
    ``floor((s + 2p - d (k - 1) - 1) / stride) + 1``)."""
    out = []
    for c in convs:
        side = (side + 2 * c.padding[0] - c.dilation[0] * (c.kernel_size[0] - 1) - 1) // c.stride[0] + 1
        out.append(side)
    return out


def _fits(convs: list[nn.Conv2d], side: int) -> bool:
    """Every hidden map at least 2x2 (a normalisation needs more than one value per map) and one logit."""
    sides = _conv_sides(convs, side)
    return all(s >= 2 for s in sides[:-1]) and sides[-1] >= 1


def check_patch_size(D: nn.Module, shape: tuple[int, ...], model: str) -> None:
    """Refuse, before anything is trained or written, images too small for the PatchGAN ``D``:
    its 4x4 convolutions would meet a map smaller than their kernel mid-training."""
    side = min(shape[-2:])
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    if _fits(convs, side):
        return
    need = next(s for s in range(side + 1, 1 << 16) if _fits(convs, s))
    raise ConfigError(f"model={model}: images of {shape[-1]}x{shape[-2]} px are too small for its PatchGAN "
                      f"discriminator of {len(convs) - 2} layers (model.d_layers), which needs at least "
                      f"{need}x{need}; set data.size={need} or fewer model.d_layers")


class TranslationRecipe(Translates, Recipe):
    """What pix2pix and CycleGAN share: objective, checks, and applying a network to images."""

    num_classes = 0  # no labels pick anything: the input image is the condition

    def _common(self, cfg: Config, data: DataSource, device: torch.device, model: str, loss: Component) -> None:
        _check(cfg, model)
        self.cfg, self.data, self.device = cfg, data, device
        self.objective: Objective = LOSSES.build(loss.name, loss.options)
        if not self.objective.learned_critic or self.objective.critic_dim != 1 or self.objective.g_uses_real:
            raise ConfigError(f"model={model} needs an objective on one logit per patch (ns, lsgan, hinge, ...), "
                              f"not loss={loss.name}")
        self.batch_size = cfg.train.batch_size
        self.data_rng = self.data_order(cfg)

    def _optimizer(self, params: list[nn.Parameter], which: str) -> torch.optim.Optimizer:
        o = self.cfg.optim_g if which == "g" else self.cfg.optim_d
        return make_optimizer(params, o.name, o.lr, tuple(o.betas), o.momentum, o.weight_decay,
                              fused=self.device.type == "cuda")

    def _trainer(self, phases: list[Phase]) -> Trainer:
        return self.make_trainer(self.cfg, phases)

    @torch.no_grad()
    def apply(self, net: nn.Module, x: Tensor, batch: int = 256) -> Tensor:
        """``net`` on images ``x (n, C, H, W)`` in eval mode (dropout off, batch-norm running
        statistics), on the CPU."""
        was = net.training
        net.eval()
        out = [net(part.to(self.device)).float().cpu() for part in x.split(batch)]
        net.train(was)
        return torch.cat(out) if out else x[:0]

    @staticmethod
    def _pick(n: int, total: int, seed: int | None) -> Tensor:
        """``n`` indices into ``total`` held-out images: a seeded permutation, cycled."""
        gen = torch.Generator().manual_seed(0 if seed is None else seed)
        perm = torch.randperm(total, generator=gen)
        return perm[torch.arange(n) % total]

    def sampler(self) -> nn.Module:
        return self.G


def _rgb(x: Tensor, c: int) -> Tensor:
    return x.expand(-1, c, -1, -1) if x.shape[1] == 1 and c == 3 else x


def triplets(columns: list[Tensor], per_row: int = 4) -> tuple[Tensor, int]:
    """Images ``columns[k] (n, C, H, W)`` interleaved as ``n`` groups ``(c0_i, c1_i, ...)``, ``per_row``
    groups per grid row; channels widened to the widest (grey -> RGB). Returns ``(images, nrow)``."""
    c = max(t.shape[1] for t in columns)
    stacked = torch.stack([_rgb(t, c) for t in columns], 1)                   # (n, k, C, H, W)
    n, k = stacked.shape[:2]
    return stacked.reshape(n * k, *stacked.shape[2:]), k * max(1, min(per_row, n))


@RECIPES.register("pix2pix", summary="paired image-to-image translation: U-Net vs PatchGAN + L1",
                  paper="Isola et al. 2017")
class Pix2PixRecipe(TranslationRecipe):
    """U-Net translator and PatchGAN on (input, output) pairs, trained with ``gan * cGAN + l1 * L1``."""

    def __init__(self, cfg: Config, data: DataSource, device: torch.device, *, rank: int = 0,
                 l1: NonNegative = 100.0, gan: NonNegative = 1.0, net: Net = "unet", width: Count = 64,
                 norm: Norm = "batch", dropout: Fraction = 0.5, blocks: Count = 6, d_width: Count = 64,
                 d_layers: Count = 3, d_norm: Norm = "batch", loss: LossOption = Component("ns")) -> None:
        self._common(cfg, data, device, "pix2pix", loss)
        if not isinstance(data, PairedSource):
            raise ConfigError(f"model=pix2pix needs paired data (data=pair-task, or pairs:DIR with DIR/A and DIR/B), "
                              f"not {data.name!r}")
        if l1 == 0 and gan == 0:
            raise ConfigError("model=pix2pix with model.l1=0 and model.gan=0 has nothing to minimise")
        self.l1_weight, self.gan_weight = l1, gan
        opts: dict[str, Any] = {"width": width, "norm": norm}
        opts.update({"dropout": dropout} if net == "unet" else {"blocks": blocks})
        self.G = TRANSLATORS.build(net, opts, in_shape=data.input_shape, out_shape=data.shape).to(device)
        self.D = PATCH_DISCRIMINATORS.build("patchgan", {"width": d_width, "layers": d_layers, "norm": d_norm},
                                            in_channels=data.input_shape[0] + data.shape[0]).to(device)
        check_patch_size(self.D, data.shape, "pix2pix")
        self._pair: tuple[Tensor, Tensor] | None = None
        self.trainer = self._trainer(self.phases())

    @property
    def default_metrics(self) -> list[str]:
        return ["l1", "psnr"]

    def pair_batch(self) -> tuple[Tensor, Tensor]:
        a, b = self.data.sample_pairs(self.batch_size, self.data_rng)
        return a.to(self.device, non_blocking=True), b.to(self.device, non_blocking=True)

    def critic(self, a: Tensor, b: Tensor) -> Tensor:
        """Patch logits ``(B, 1, h, w)`` of the pair ``(a, b)`` (input and output side by side in channels)."""
        return self.D(torch.cat([a, b], 1)).float()

    def d_loss(self) -> tuple[Tensor, Logs]:
        a, b = self._pair = self.pair_batch()       # the G phase of this step reuses the batch
        with torch.no_grad():
            fake = self.G(a)
        real_out, fake_out = self.critic(a, b), self.critic(a, fake)
        loss = self.objective.d_loss(real_out, fake_out)
        logs: Logs = {"d_loss": loss.detach()}
        if self.objective.probability_outputs:
            logs["D(x)"] = torch.sigmoid(real_out.detach()).mean()
            logs["D(G(z))"] = torch.sigmoid(fake_out.detach()).mean()
        return loss, logs

    def g_loss(self) -> tuple[Tensor, Logs]:
        a, b = self._pair if self._pair is not None else self.pair_batch()
        self._pair = None
        fake = self.G(a)
        rec = l1(fake, b)
        loss = self.l1_weight * rec
        logs: Logs = {"l1": rec.detach()}
        if self.gan_weight > 0:
            adv = self.objective.g_loss(self.critic(a, fake), None)
            loss = loss + self.gan_weight * adv
            logs["g_loss"] = adv.detach()
        return loss, logs

    def phases(self) -> list[Phase]:
        phases = []
        if self.gan_weight > 0:
            phases.append(Phase("D", [self.D], self._optimizer(list(self.D.parameters()), "d"), self.d_loss,
                                repeats=self.cfg.train.d_steps))
        phases.append(Phase("G", [self.G], self._optimizer(list(self.G.parameters()), "g"), self.g_loss,
                            repeats=self.cfg.train.g_steps))
        return phases

    def translate(self, a: Tensor) -> Tensor:
        """``G(a)``: inputs ``(n, Ca, H, W)`` -> outputs ``(n, Cb, H, W)`` on the CPU (eval mode)."""
        return self.apply(self.G, a)

    def generate(self, n: int, labels: Tensor | None = None, *, seed: int | None = None,
                 batch: int = 256) -> Tensor:
        """Translations ``G(a)`` of ``n`` held-out inputs (a seeded order, cycled), ``(n, *shape)``."""
        if labels is not None:
            raise ConfigError("model=pix2pix translates its held-out inputs; it takes no class labels")
        idx = self._pick(n, self.data.test_inputs.shape[0], seed)
        return self.apply(self.G, self.data.test_inputs[idx], batch)

    def sample_grid(self, n: int, *, seed: int | None = None) -> tuple[Tensor, int]:
        """``n`` held-out triplets input | output | target, four per row."""
        idx = self._pick(n, self.data.test_inputs.shape[0], seed)
        a = self.data.test_inputs[idx]
        return triplets([a, self.translate(a), self.data.test_x[idx]])

    def sample_grid_labels(self, m: int, columns: int) -> tuple[list[str] | None, list[str] | None]:
        return None, ["input", "output", "target"] * (columns // 3)

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}


@RECIPES.register("cyclegan", summary="unpaired translation: two translators, two PatchGANs, cycle loss",
                  paper="Zhu et al. 2017")
class CycleGANRecipe(TranslationRecipe):
    """``G: A -> B``, ``F: B -> A``, ``D_A``, ``D_B``; adversarial + cycle + identity terms."""

    def __init__(self, cfg: Config, data: DataSource, device: torch.device, *, rank: int = 0,
                 cycle: NonNegative = 10.0, identity: NonNegative = 0.5, gan: NonNegative = 1.0,
                 pool: NonNegativeInt = 50, net: Net = "resnet", width: Count = 64, norm: Norm = "instance",
                 blocks: Count = 6, dropout: Fraction = 0.0, d_width: Count = 64, d_layers: Count = 3,
                 d_norm: Norm = "instance", loss: LossOption = Component("ns")) -> None:
        self._common(cfg, data, device, "cyclegan", loss)
        if not isinstance(data, DomainsSource):
            raise ConfigError(f"model=cyclegan needs two image domains (data=fashion-domains, or domains:DIR with "
                              f"DIR/A and DIR/B), not {data.name!r}")
        if cfg.train.batch_size > len(data):
            raise ConfigError(f"train.batch_size={cfg.train.batch_size} exceeds the {len(data)} images of the smaller "
                              f"domain of {data.name!r}")
        if identity > 0 and data.input_shape[0] != data.shape[0]:
            raise ConfigError(f"model.identity={identity} needs domains with the same channels; A has "
                              f"{data.input_shape[0]}, B {data.shape[0]} (set model.identity=0)")
        self.cycle_weight, self.identity_weight, self.gan_weight = cycle, identity, gan
        opts: dict[str, Any] = {"width": width, "norm": norm}
        opts.update({"dropout": dropout} if net == "unet" else {"blocks": blocks})
        sa, sb = data.input_shape, data.shape
        self.G = TRANSLATORS.build(net, opts, in_shape=sa, out_shape=sb).to(device)
        self.F = TRANSLATORS.build(net, opts, in_shape=sb, out_shape=sa).to(device)
        d_opts = {"width": d_width, "layers": d_layers, "norm": d_norm}
        self.D_A = PATCH_DISCRIMINATORS.build("patchgan", d_opts, in_channels=sa[0]).to(device)
        self.D_B = PATCH_DISCRIMINATORS.build("patchgan", d_opts, in_channels=sb[0]).to(device)
        check_patch_size(self.D_A, sa, "cyclegan")
        check_patch_size(self.D_B, sb, "cyclegan")
        self.pools = {"A": ImagePool(pool, cfg.seed * 31 + 1), "B": ImagePool(pool, cfg.seed * 31 + 2)}
        self._batch: tuple[Tensor, Tensor, Tensor, Tensor] | None = None
        self.trainer = self._trainer(self.phases())

    @property
    def default_metrics(self) -> list[str]:
        return ["cycle"] + (["translated_classes"] if self.data.classes is not None else [])

    def domain_batch(self) -> tuple[Tensor, Tensor]:
        a, b = self.data.sample_domains(self.batch_size, self.data_rng)
        return a.to(self.device, non_blocking=True), b.to(self.device, non_blocking=True)

    def g_loss(self) -> tuple[Tensor, Logs]:
        a, b = self.domain_batch()
        fake_b, fake_a = self.G(a), self.F(b)
        cyc = cycle_loss(self.G, self.F, a, b, fake_a=fake_a, fake_b=fake_b)
        adv = (self.objective.g_loss(self.D_B(fake_b).float(), None)
               + self.objective.g_loss(self.D_A(fake_a).float(), None))
        loss = self.gan_weight * adv + self.cycle_weight * cyc
        logs: Logs = {"g_loss": adv.detach(), "cycle": cyc.detach()}
        if self.identity_weight > 0:
            idt = identity_loss(self.G, self.F, a, b)
            loss = loss + self.identity_weight * self.cycle_weight * idt
            logs["identity"] = idt.detach()
        self._batch = (a, b, fake_a.detach(), fake_b.detach())   # the D phase of this step judges these
        return loss, logs

    def d_loss(self) -> tuple[Tensor, Logs]:
        if self._batch is None:  # a D phase without a G phase before it (d_steps > 1): fresh fakes
            a, b = self.domain_batch()
            with torch.no_grad():
                self._batch = (a, b, self.F(b), self.G(a))
        a, b, fake_a, fake_b = self._batch
        self._batch = None
        fa, fb = self.pools["A"].query(fake_a), self.pools["B"].query(fake_b)
        loss_a = self.objective.d_loss(self.D_A(a).float(), self.D_A(fa).float())
        loss_b = self.objective.d_loss(self.D_B(b).float(), self.D_B(fb).float())
        loss = loss_a + loss_b
        return loss, {"d_loss_A": loss_a.detach(), "d_loss_B": loss_b.detach()}

    def phases(self) -> list[Phase]:
        gf = list(self.G.parameters()) + list(self.F.parameters())
        ds = list(self.D_A.parameters()) + list(self.D_B.parameters())
        return [Phase("G", [self.G, self.F], self._optimizer(gf, "g"), self.g_loss, repeats=self.cfg.train.g_steps),
                Phase("D", [self.D_A, self.D_B], self._optimizer(ds, "d"), self.d_loss,
                      repeats=self.cfg.train.d_steps)]

    def translate(self, x: Tensor, direction: Literal["AB", "BA"] = "AB") -> Tensor:
        """``G(x)`` (A -> B) or ``F(x)`` (B -> A) on the CPU, eval mode."""
        return self.apply(self.G if direction == "AB" else self.F, x)

    def generate(self, n: int, labels: Tensor | None = None, *, seed: int | None = None,
                 batch: int = 256) -> Tensor:
        """Translations ``G(a)`` of ``n`` held-out A images (a seeded order, cycled), ``(n, *shape_B)``."""
        if labels is not None:
            raise ConfigError("model=cyclegan translates its held-out images; it takes no class labels")
        idx = self._pick(n, self.data.test_a.shape[0], seed)
        return self.apply(self.G, self.data.test_a[idx], batch)

    def sample_grid(self, n: int, *, seed: int | None = None) -> tuple[Tensor, int]:
        """``n`` held-out triplets: a | G(a) | F(G(a)) for the first half, b | F(b) | G(F(b)) for the rest."""
        na = (n + 1) // 2
        a = self.data.test_a[self._pick(na, self.data.test_a.shape[0], seed)]
        b = self.data.test_b[self._pick(n - na, self.data.test_b.shape[0], seed)]
        ga, fb = self.translate(a), self.translate(b, "BA")
        first = triplets([a, ga, self.translate(ga, "BA")])[0]
        second = triplets([b, fb, self.translate(fb)])[0]
        return torch.cat([first, second]), 3 * max(1, min(4, n))

    def sample_grid_labels(self, m: int, columns: int) -> tuple[list[str] | None, list[str] | None]:
        rows = math.ceil(m / columns)
        half = math.ceil(rows / 2)
        return (["A → B → A"] * half + ["B → A → B"] * (rows - half),
                ["input", "translated", "back"] * (columns // 3))

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "F": self.F, "D_A": self.D_A, "D_B": self.D_B}

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["pools"] = {k: p.state_dict() for k, p in self.pools.items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for k, p in self.pools.items():
            p.load_state_dict(state["pools"][k], self.device)
