"""Names and defaults shared by the library and its commands, importable without torch.

The command line builds its options (and `--help`) from these, so `asyncthink --help` and
`asyncthink models` start in a fraction of a second: torch and transformers are imported
only by the commands that load a model.
"""

DEFAULT_MODEL = "Qwen/Qwen3-0.6B"  # for users with weights; `tiny-reasoner` is shipped in the package
DECODE_MODES = ("auto", "eager", "static", "graphs")
ON_INPUT = ("pause_writer", "continue")  # what heard input does to a writer that is writing
