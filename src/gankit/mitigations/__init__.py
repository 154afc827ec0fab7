"""Mode-collapse mitigations, registered in :data:`gankit.mitigations.base.MITIGATIONS`.

Selected in a config as ``mitigations: {name: {options}}`` (``--set mitigations.pack.m=4``):

==================  ===========================================================  ====================
name                what it does                                                 paper
==================  ===========================================================  ====================
``minibatch``       L1 kernel similarities across the batch before D's last layer Salimans et al. 2016
``mbstd``           batch standard deviation of D's last features as one feature  Karras et al. 2018
``pack``            D judges ``m`` samples concatenated (PacGAN)                  Lin et al. 2018
``unrolled``        G differentiates through ``k`` unrolled D updates (torch.func) Metz et al. 2017
``instance_noise``  annealed Gaussian noise on every input of D                   Sønderby et al. 2017
``spectral_norm``   spectral normalisation of every layer of D                    Miyato et al. 2018
``drs``             rejection sampling by a critic refitted to the trained G      Azadi et al. 2019
``augment``         differentiable augmentation of D's inputs, adaptive p (ADA)   Zhao et al. 2020; Karras et al. 2020
==================  ===========================================================  ====================

Three more mitigations are plain configuration, not hooks: a mixture-of-Gaussians latent
prior (``prior=mog prior.components=K``, Gurumurthy et al. 2017: a disconnected latent lets
a continuous G reach disconnected modes without mass in between), the Wasserstein
objective with gradient penalty (``loss=wgan penalty=gp``, Gulrajani et al. 2017; preset
``wgan-gp``) and an exponential moving average of G's weights (``train.ema=0.999``,
Yazici et al. 2019). ``gankit bench modes`` measures all of them.
"""

from gankit.mitigations import augment, bourgan, features, latent, mgan, noise, packing, rejection, unrolled  # noqa: F401  (registration)
