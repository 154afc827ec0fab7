"""Recipes: what a run trains (``model=gan``, ``aae``, ``pix2pix``, ...), each one module.

A recipe is a class registered in :data:`RECIPES` whose keyword-only constructor arguments
are its options (``model.loss``, ``model.generator.width``, ``model.cycle``): it builds its
networks, objective and penalties from them and hands the one loop
(:class:`gankit.engine.loop.Trainer`) its phases. What it can do beyond generating
(encode, translate, classify, carry codes) it declares by inheriting the classes of
:mod:`gankit.capabilities`; nothing else needs to learn about it.

Every module of this package is imported here, so adding a recipe is adding its module.
"""

from __future__ import annotations

import importlib
import pkgutil

from gankit.recipes.base import RECIPES, Recipe, build_recipe

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["RECIPES", "Recipe", "build_recipe"]
