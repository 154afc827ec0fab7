"""An image run measured on Inception features shows its protocol card on the report page
(extractor, resize, N real and generated, reference, statistics, weights), escaped, and the
card is not a row of the metrics table."""

from __future__ import annotations

import json

from gankit.report.html import build_report


def test_the_protocol_card_is_its_own_table(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("data: {name: emoji}\n")
    card = {"extractor": "inception-2015-12-05 <b>x</b>", "resize": "clean",
            "resize_method": "PIL bicubic per channel on float (clean-fid)", "num_real": 2048,
            "num_generated": 2048, "reference": {"data": "emoji", "split": "train", "images": "2048 drawn"},
            "statistics": "float64; covariance with 1/(n-1)", "weights_sha1": "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"}
    (run / "metrics.json").write_text(json.dumps({"fid": 41.5, "feature_extractor": card["extractor"],
                                                  "feature_protocol": card, "step": 10}))
    page = build_report([run], tmp_path / "r.html").read_text()
    assert "Feature protocol" in page and "2048 real, 2048 generated" in page
    assert "PIL bicubic per channel on float (clean-fid)" in page and "emoji, train split, 2048 drawn" in page
    assert "a16e4d89c0ec" in page and "a16e4d89c0ecb" not in page          # 12 digits of the SHA-1
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert '<td class="k">feature_protocol</td>' not in page                # not a metric row
    assert "features named by feature_extractor" in page                   # FID's help names no classifier


def test_a_classifier_run_has_no_card(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"fid": 3.5, "feature_extractor": "gankit-classifier:digits:v1"}))
    assert "Feature protocol" not in build_report([run], tmp_path / "r.html").read_text()
