"""Generators, discriminators and latent priors. Networks know nothing of losses."""

from gankit.networks.base import DISCRIMINATORS, GENERATORS
from gankit.networks.priors import PRIORS, Prior
from gankit.networks import mlp  # noqa: F401  (registers the MLP networks)
from gankit.networks import dcgan  # noqa: F401  (registers the DCGAN networks)
from gankit.networks import resnet  # noqa: F401  (registers R3GAN's ResNet networks)
from gankit.networks.encoders import ENCODERS  # AAE encoders; registers the conv decoder
from gankit.networks import aae_priors  # noqa: F401  (registers the swissroll prior)
from gankit.networks import gaussian  # noqa: F401  (registers the Gaussian generator x = mu + s*z)
from gankit.networks.translation import PATCH_DISCRIMINATORS, TRANSLATORS  # image-to-image (pix2pix, CycleGAN)

__all__ = ["DISCRIMINATORS", "ENCODERS", "GENERATORS", "PRIORS", "Prior"]
