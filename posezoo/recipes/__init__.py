"""Training recipes: the released settings of each family, as documented defaults.

Import a family's recipe explicitly (``from posezoo.recipes import uplift_upsample``);
nothing here is imported by ``import posezoo``.
"""
