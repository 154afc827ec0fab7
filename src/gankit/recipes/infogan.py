"""InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information
Maximizing Generative Adversarial Nets") as a configuration of the GAN recipe.

The latent is noise plus codes (:class:`~gankit.networks.codes.LatentCodes`): a uniform
categorical code of ``model.categories`` values and ``model.continuous`` codes uniform on
``[-1, 1]``; ``latent_dim`` counts all of it (the paper's MNIST run: 10 + 2 + 62 = 74). Q
shares D's body (:class:`~gankit.networks.auxiliary.AuxiliaryHead`) and adds FC(128) - BN -
LeakyReLU - FC (table 1 of the paper's appendix): the categorical code's logits and the
continuous codes' Gaussian means. The objective (eq. (6)) is

    min_{G, Q} max_D  V(D, G) - lambda L_I(G, Q),
    L_I = E[log Q(c | G(z, c))] + H(c)              (:mod:`gankit.losses.info`),

with ``lambda = model.info_weight`` for the categorical code (the paper's 1) and
``model.continuous_weight`` for the continuous ones.

Choices, as in the authors' code (openai/InfoGAN): Q's continuous outputs are Gaussian means
with a fixed standard deviation (``model.learn_std=false``: sigma = 1; ``true`` adds M
log-sigma outputs); Q is trained by D's optimiser in D's phase (its head lives beside D's
and its body is D's, so ``- lambda L_I`` on that phase's fakes is added to D's loss), and G
by its own, ``- lambda L_I`` on its phase's fakes added to G's loss. The paper notes that a
smaller lambda is typical for continuous codes; their MNIST run used 1 for both, which with
a fixed sigma = 1 keeps the continuous term at most 2 nats per code.

The D phase reuses the fakes GANRecipe generated for D: a forward hook on G keeps each
batch's latents while the phase runs, so the codes of ``fake`` are known without drawing
again.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from typing import Any, TYPE_CHECKING

import torch
from torch import Tensor

from gankit.capabilities import DrawsSampleGrid, HasCodes, KnownModes
from gankit.data.base import DataSource
from gankit.errors import ConfigError
from gankit.losses.info import categorical_bound, gaussian_bound
from gankit.networks import PRIORS
from gankit.networks.codes import LatentCodes
from gankit.registry import NonNegative, NonNegativeInt
from gankit.recipes.auxiliary import AuxiliaryGANRecipe
from gankit.engine.loop import Logs
from gankit.recipes.base import RECIPES

if TYPE_CHECKING:
    from gankit.config import Config

CHEN = "Chen et al. 2016, 'InfoGAN: Interpretable Representation Learning by Information Maximizing GANs'"


@RECIPES.register("infogan", summary="noise + categorical/continuous codes, Q head on D maximising L_I",
                  paper=CHEN)
class InfoGANRecipe(HasCodes, DrawsSampleGrid, AuxiliaryGANRecipe):
    """The GAN recipe with InfoGAN's codes, Q head and mutual-information terms.

    Options: ``categories`` (K of the categorical code; 0 or 1: none), ``continuous`` (M
    codes on [-1, 1]), ``info_weight`` (lambda of the categorical term), ``continuous_weight``
    (lambda of the continuous term), ``learn_std`` (Q learns the codes' log sigma; default a
    fixed sigma = 1), ``q_width`` (Q's hidden layer; 0: a linear head).
    """

    term_name = "info"

    def __init__(self, cfg: Config, data: DataSource, device: torch.device, *, rank: int = 0,
                 categories: NonNegativeInt = 10, continuous: NonNegativeInt = 0,
                 info_weight: NonNegative = 1.0, continuous_weight: NonNegative = 1.0,
                 learn_std: bool = False, q_width: NonNegativeInt = 128, **gan: Any) -> None:
        o = self.gan_options(gan)
        if o.conditional:
            raise ConfigError("model=infogan learns its codes without labels: set conditional=false")
        k = categories if categories >= 2 else 0
        noise_dim = o.latent_dim - k - continuous
        if noise_dim < 1:
            raise ConfigError(f"latent_dim={o.latent_dim} must exceed the codes' {k + continuous} coordinates "
                              f"(model.categories={categories}, model.continuous={continuous}): "
                              f"latent_dim = codes + noise, e.g. {k + continuous + 62} for 62 noise variables")
        noise = PRIORS.build(o.prior.name, o.prior.options, dim=noise_dim)
        self.codes = LatentCodes(noise, k, continuous)
        self.info_weight, self.continuous_weight = float(info_weight), float(continuous_weight)
        self.learn_std, self.head_hidden = bool(learn_std), int(q_width)
        self._latents: list[tuple[Tensor, Tensor]] | None = None
        self._bound: dict[str, Tensor] = {}
        super().__init__(cfg, data, device, rank=rank, **gan)
        self.prior = self.codes  # the noise GANRecipe drew from model.prior becomes the codes' noise part
        # a plain function, not a bound method: a deepcopy of G must not copy the recipe
        self.G.register_forward_hook(lambda module, args, output: self._keep_latents(output, args[0]))

    # -- the codes --------------------------------------------------------------------------
    def head_dim(self) -> int:
        m = self.codes.continuous
        return self.codes.categories + m * (2 if self.learn_std else 1)

    def _keep_latents(self, output: Tensor, z: Tensor) -> None:
        if self._latents is not None:
            self._latents.append((output, z))

    def latents_of(self, fake: Tensor) -> Tensor:
        """The latents ``z`` this phase's batch of fakes ``fake`` was generated from (LookupError
        when G made no such batch in this phase)."""
        for out, z in self._latents or ():
            if out is fake:
                return z
        raise LookupError

    def mutual_information(self, q: Tensor, z: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """``L_I`` of the categorical and of the continuous codes of latents ``z (B, dim)``,
        from Q's outputs ``q (B, head_dim)``."""
        c, u = self.codes.split(z)
        k, m = self.codes.categories, self.codes.continuous
        cat = categorical_bound(q[:, :k], c, self.codes.categorical_entropy) if k else None
        cont = None
        if m:
            log_std = q[:, k + m:k + 2 * m] if self.learn_std else 0.0
            cont = gaussian_bound(u, q[:, k:k + m], log_std, self.codes.continuous_entropy)
        return cat, cont

    def _info_loss(self, fake: Tensor, z: Tensor) -> Tensor:
        cat, cont = self.mutual_information(self.head(fake), z)
        loss = torch.zeros((), device=fake.device)
        if cat is not None:
            loss = loss - self.info_weight * cat
            self._bound["mi_categorical"] = cat.detach()
        if cont is not None:
            loss = loss - self.continuous_weight * cont
            self._bound["mi_continuous"] = cont.detach()
        return loss

    def head_loss_d(self, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor | None:
        try:
            z = self.latents_of(fake)
        except LookupError:  # not GANRecipe's own fakes (a mitigation changed them): draw a batch
            z = self.batches.noise(self.prior, fake.shape[0])
            with torch.no_grad():
                fake = self.G(z)
        return self._info_loss(fake, z)

    def head_loss_g(self, fake: Tensor, y: Tensor | None, z: Tensor) -> Tensor | None:
        return self._info_loss(fake, z)

    def d_loss(self) -> tuple[Tensor, Logs]:
        self._latents = []
        try:
            return super().d_loss()
        finally:
            self._latents = None

    def g_loss(self) -> tuple[Tensor, Logs]:
        loss, logs = super().g_loss()
        logs.update(self._bound)  # L_I of G's batch: <= log K for the categorical code
        return loss, logs

    # -- using the result -----------------------------------------------------------------
    @property
    def default_metrics(self) -> list[str]:
        """The data's default metrics, and ``codes`` where samples can be labelled (labelled
        images, mixtures with known modes)."""
        from gankit.metrics.defaults import default_metrics

        own = default_metrics(self.data, self.cfg.eval.inception)
        d = self.data
        labelled = d.kind == "images" and d.num_classes >= 2 and d.y is not None
        return own + (["codes"] if self.codes.categories and (labelled or isinstance(d, KnownModes)) else [])

    @torch.no_grad()
    def generate_codes(self, c: Tensor | None, u: Tensor | None = None, *, seed: int | None = None,
                       eps: Tensor | None = None, batch: int = 4096) -> Tensor:
        """Samples ``(n, *shape)`` for chosen codes ``c (n,)`` and ``u (n, M)`` (None: drawn from
        their prior), noise ``eps (n, noise dim)`` drawn from ``seed`` unless given."""
        n = (c if c is not None else u if u is not None else eps).shape[0]  # type: ignore[union-attr]
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        c0, u0 = self.codes.sample_codes(n, gen)
        if eps is None:
            eps = self.codes.noise.sample(n, generator=gen)
        z = self.codes.compose(c if c is not None else c0, u if u is not None else u0, eps)
        G = self.sampler()
        was = G.training
        G.eval()
        out = []
        for part in z.split(batch):
            x = G(part.to(self.device)).float()
            out.append((x if self.transform is None else self.transform.inverse(x)).cpu())
        G.train(was)
        return torch.cat(out)

    def code_grid(self, columns: int, *, rows: list[int] | None = None, vary: int | None = None,
                  seed: int = 0) -> Tensor:
        """Samples in a grid, row-major ``(len(rows) * columns, *shape)``: row ``r`` has the
        categorical code ``rows[r]`` (default: every value, one row each). With ``vary = j``
        continuous code ``j`` runs from -1 to 1 along each row and the noise and other codes are
        one fixed draw; otherwise column ``i`` has its own noise and continuous codes, shared
        down the column, so a column shows one style across the code values."""
        k = self.codes.categories
        rows = list(range(k)) if rows is None else rows
        if any(not 0 <= r < k for r in rows):
            raise ConfigError(f"the categorical code must be in 0..{k - 1}" if k else
                              "this InfoGAN run has no categorical code (model.categories=0)")
        rows = rows or [0]
        gen = torch.Generator().manual_seed(seed)
        _, u = self.codes.sample_codes(columns, gen)
        eps = self.codes.noise.sample(columns, generator=gen)                  # (columns, noise dim)
        if vary is not None:
            m = self.codes.continuous
            if not 0 <= vary < m:
                raise ConfigError(f"the varied continuous code must be in 0..{m - 1}" if m else
                                  "this InfoGAN run has no continuous code to vary (model.continuous=0)")
            assert u is not None
            eps = eps[:1].expand(columns, -1)
            u = u[:1].repeat(columns, 1)
            u[:, vary] = torch.linspace(-1, 1, columns)
        c = torch.tensor(rows).repeat_interleave(columns) if k else None
        r = len(rows)
        return self.generate_codes(c, None if u is None else u.repeat(r, 1), eps=eps.repeat(r, 1))

    @property
    def sample_grid(self) -> Callable[..., tuple[Tensor, int]]:  # image runs only: point runs get a scatter plot
        """Image runs: ``sample_grid(n, seed) -> (images, columns)``, one row per code value
        (:meth:`code_grid`) for the run's sample PNGs."""
        if self.data.kind != "images":
            raise AttributeError("sample_grid")

        def grid(n: int, seed: int | None = 0) -> tuple[Tensor, int]:
            cols = max(1, n // max(self.codes.categories, 1))
            return self.code_grid(cols, seed=seed or 0), cols

        return grid

    def sample_grid_labels(self, m: int, columns: int) -> tuple[list[str] | None, list[str] | None]:
        return [f"code {c}" for c in range(math.ceil(m / columns))], None
