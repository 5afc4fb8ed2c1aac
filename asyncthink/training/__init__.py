"""Training the tiny reasoner that ships in asyncthink/models/tiny_reasoner/.

    python -m asyncthink.training --seed 0 --out DIR        # stage 1 of the shipped folder (stages 2-3: __main__.py)
    python -m asyncthink.training.check DIR                 # measures it through the engine

The model is trained on the project's own layouts (ordinary think-then-answer chats, the
async thinker's, writer's and control views, and heard corrections; see corpus.py), so it
shows the engine, the control question and listening working end to end — not that a
model needs no training for them; that claim stays with real models.

Public functions: `train(TrainConfig(...), out)` (loop.py), `build_tokenizer(texts)`
(tokenizer.py), `build_model(tokenizer, Shape(...))` (model.py), `Renderer` and
`example(renderer, rng, kind)` (corpus.py: training sequences rendered from layouts).
"""

from .corpus import MIX, Renderer, example, tokenizer_texts
from .loop import TrainConfig, save, train
from .model import Shape, build_model, parameter_count
from .tokenizer import build_tokenizer

__all__ = ["MIX", "Renderer", "Shape", "TrainConfig", "build_model", "build_tokenizer", "example",
           "parameter_count", "save", "tokenizer_texts", "train"]
