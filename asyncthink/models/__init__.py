"""Models the project ships or builds: nothing here is downloaded.

    random_weights.py  random weights with the shapes of real checkpoints (configs/*.json,
                       architecture fields only) + toy_tokenizer.py, for smoke tests and
                       benchmarks (gibberish output)
    catalog.py         what can be named offline: shipped folders ("tiny-reasoner"), random: shapes
"""

from .catalog import SHIPPED, TINY_REASONER, shipped_path

__all__ = ["SHIPPED", "TINY_REASONER", "shipped_path"]
