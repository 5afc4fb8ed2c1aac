"""Models the project ships or builds: nothing here is downloaded.

    random_weights.py  random weights with the shapes of real checkpoints (configs/*.json,
                       architecture fields only) + toy_tokenizer.py, for smoke tests and
                       benchmarks (gibberish output)
    shipped.py         names of the models shipped inside the package ("tiny-reasoner")
"""

from .shipped import SHIPPED, TINY_REASONER, shipped_path

__all__ = ["SHIPPED", "TINY_REASONER", "shipped_path"]
