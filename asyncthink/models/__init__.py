"""Models the project ships or builds: nothing here is downloaded.

    catalog.py         what can be named offline: shipped folders ("tiny-reasoner"), random: shapes
    hub.py             loading a folder or a Hub name, with errors a user can act on
    tiny_tasks.py      the arithmetic task family the shipped tiny reasoner (tiny_reasoner/, a Hugging
                       Face model folder) was trained on; `asyncthink.training` regenerates it from a seed
    random_weights.py  random weights with the shapes of real checkpoints (configs/*.json,
                       architecture fields only) + toy_tokenizer.py, for smoke tests and
                       benchmarks (gibberish output)
"""

from .catalog import SHIPPED, TINY_REASONER, shipped_path

__all__ = ["SHIPPED", "TINY_REASONER", "shipped_path"]
