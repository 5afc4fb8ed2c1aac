"""The command line starts fast: `--help` and `models` import neither torch nor transformers."""

import subprocess
import sys

import asyncthink

HEAVY = ("torch", "transformers", "tokenizers")


def _imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return [m for m in out.stdout.split() if m in HEAVY]


def test_help_and_models_import_no_torch():
    for argv in (["--help"], ["models"], ["run", "--help"], ["eval", "--help"], ["serve", "--help"]):
        code = ("import sys\nfrom asyncthink.cli import app\nsys.argv = ['asyncthink', *%r]\n"
                "try:\n    app(prog_name='asyncthink')\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n" % argv)
        assert _imported_after(code) == [], argv


def test_the_probe_sees_a_heavy_import():
    assert _imported_after("import asyncthink.reasoner") == ["tokenizers", "torch", "transformers"]


def test_public_names_resolve_lazily():
    assert sorted(asyncthink.__all__) == sorted(asyncthink._EXPORTS)
    for name in asyncthink.__all__:
        assert getattr(asyncthink, name) is not None
    assert set(asyncthink.__all__) <= set(dir(asyncthink))
