"""The image default: a GAN run that names image data and no preset gets the DCGAN recipe sized
from the data, with ADA for small sets; point data keeps the default preset; every choice stays a layer the user
overrides."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gankit import image_default
from gankit.config import config_layers, image_default_line, load_config


@pytest.mark.parametrize("side,size", [(8, 8), (16, 16), (28, 32), (32, 32), (40, 32), (48, 32), (60, 64),
                                       (64, 64), (100, 64), (256, 64), (6, 8)])
def test_the_size_is_a_power_of_two_near_the_data(side, size):
    assert image_default.choose_size(side) == size


@pytest.mark.parametrize("n,aug", [(1_000, {"p": 0.0, "adaptive": True, "ada_kimg": 100.0}),
                                   (29_999, {"p": 0.0, "adaptive": True, "ada_kimg": 100.0}), (30_000, None)])
def test_augmentation_follows_the_number_of_images(n, aug):
    chosen = image_default.layer(("images", n, 32, 3))
    assert chosen["mitigations"].get("augment") == aug
    assert chosen["loss"] == "ns" and chosen["generator"] == {"name": "dcgan", "width": 32}
    assert chosen["train"]["steps"] == 3000 and image_default.layer(("images", n, 64, 3))["train"]["steps"] == 1500


def test_image_data_gets_the_image_default_and_points_the_default_preset():
    cfg = load_config(overrides=["data=digits"])
    assert (cfg.model["loss"].name, cfg.model["penalty"].name, cfg.model["generator"].name, cfg.model["discriminator"].name) == \
        ("ns", "none", "dcgan", "dcgan")
    assert cfg.model["mitigations"]["augment"]["adaptive"] is True                # 1,438 images: ADA
    assert [s for s, _ in config_layers(overrides=["data=digits"])] == ["base", "image default", "--set"]
    ring = load_config(overrides=["data=ring"])
    assert ring.model["prior"].name == "categorical" and "drs" in ring.model["mitigations"]   # the default preset
    assert image_default_line(overrides=["data=ring"]) is None
    preset = load_config(overrides=["data=digits"], preset="dcgan-digits")
    assert "augment" not in preset.model["mitigations"]                            # a named preset wins
    mine = load_config(overrides=["data=digits", "loss=rpgan", "penalty=r1r2", "train.steps=10"])
    assert mine.model["loss"].name == "rpgan" and mine.train.steps == 10 and mine.model["penalty"].name == "r1r2"


def test_a_folder_is_sized_from_one_header_and_the_user_size_wins(tmp_path):
    for i in range(3):
        Image.fromarray(np.zeros((40, 50, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    cfg = load_config(overrides=[f"data=folder:{tmp_path}"])
    assert cfg.data.options["size"] == 32 and cfg.model["mitigations"]["augment"]["adaptive"] is True
    assert load_config(overrides=[f"data=folder:{tmp_path}", "data.size=16"]).data.options["size"] == 16
    line = image_default_line(overrides=[f"data=folder:{tmp_path}"])
    assert line.startswith("image default: 3 images of side 40 -> 32x32") and "ADA" in line
