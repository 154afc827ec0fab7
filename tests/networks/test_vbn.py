"""Virtual batch norm (Salimans et al. 2016): each output depends on its own input and the
fixed reference batch only, never on the other samples of its batch."""

import numpy as np
import torch

from gankit.networks import GENERATORS
from gankit.networks.dcgan import VirtualBatchNorm2d


def _gen(virtual_bn: int, num_classes: int = 0):
    torch.manual_seed(0)
    return GENERATORS.build("dcgan", {"width": 8, "virtual_bn": virtual_bn}, latent_dim=6, data_shape=(1, 16, 16),
                            num_classes=num_classes)


def test_an_output_does_not_depend_on_the_rest_of_its_batch():
    G = _gen(16).train()
    z = torch.randn(8, 6)
    together = G(z)
    alone = torch.cat([G(z[i:i + 1]) for i in range(8)])
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-6)
    other = G(torch.cat([z[:1], 5 * torch.randn(7, 6)]))  # the same first sample among other companions
    torch.testing.assert_close(other[:1], together[:1], rtol=0, atol=1e-6)
    # batch norm, by contrast, couples the samples of a batch
    B = _gen(0).train()
    assert (B(z)[:1] - B(torch.cat([z[:1], 5 * torch.randn(7, 6)]))[:1]).abs().max() > 1e-2


def test_conditional_generator_with_vbn_is_per_sample_too():
    G = _gen(10, num_classes=3).train()
    z, y = torch.randn(5, 6), torch.tensor([0, 2, 1, 1, 0])
    torch.testing.assert_close(G(z, y), torch.cat([G(z[i:i + 1], y[i:i + 1]) for i in range(5)]), rtol=0, atol=1e-6)


def test_vbn_equals_a_hand_computation():
    torch.manual_seed(1)
    h = torch.randn(3 + 2, 2, 4, 4, dtype=torch.float64)  # 3 reference rows, 2 samples
    vbn = VirtualBatchNorm2d(2, n_ref=3).double()
    with torch.no_grad():
        vbn.weight.copy_(torch.tensor([1.5, 0.5]))
        vbn.bias.copy_(torch.tensor([0.1, -0.2]))
    out = vbn(h).detach().numpy()
    a = h.numpy()
    ref = a[:3]
    for c in range(2):
        m, s = ref[:, c].mean(), (ref[:, c] ** 2).mean()
        np.testing.assert_allclose(out[:3, c], (ref[:, c] - m) / np.sqrt(s - m * m + 1e-5) * vbn.weight[c].item()
                                   + vbn.bias[c].item(), rtol=1e-12)
        for i in range(3, 5):  # statistics of the reference batch plus this one sample, weights 3/4 and 1/4
            mi = 0.75 * m + 0.25 * a[i, c].mean()
            si = 0.75 * s + 0.25 * (a[i, c] ** 2).mean()
            np.testing.assert_allclose(out[i, c], (a[i, c] - mi) / np.sqrt(si - mi * mi + 1e-5)
                                       * vbn.weight[c].item() + vbn.bias[c].item(), rtol=1e-12)


def test_the_reference_batch_is_fixed_and_saved():
    G1, G2 = _gen(12), _gen(12)
    assert torch.equal(G1.z_ref, G2.z_ref) and "z_ref" in G1.state_dict()
