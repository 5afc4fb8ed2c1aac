"""Names and defaults shared by the library and its commands, importable without torch.

The command line builds its options (and `--help`) from these, so `asyncthink --help` and
`asyncthink models` start in a fraction of a second: torch and transformers are imported
only by the commands that load a model.
"""

DEFAULT_MODEL = "Qwen/Qwen3-0.6B"  # for users with weights; `tiny-reasoner` is shipped in the package
DECODE_MODES = ("auto", "eager", "static", "graphs")
ON_INPUT = ("pause_writer", "continue")  # what heard input does to a writer that is writing
DTYPES = ("auto", "float32", "fp32", "bfloat16", "bf16", "float16", "fp16")


def device_problem(device: str) -> str | None:
    """Why `device` cannot be used (auto, cpu, cuda, cuda:N are supported), or None."""
    if device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit()):
        return None
    if device.split(":")[0] in ("mps", "meta", "xpu", "hpu", "xla", "npu"):
        return f"device {device!r} is not supported (asyncthink runs on cpu and cuda); choose auto, cpu, cuda or cuda:N"
    return f"unknown device {device!r}; choose auto, cpu, cuda or cuda:N"
