"""Benchmarks and real-time metrics (issue #6); the command line is asyncthink/cli/eval.py.

    datasets.py ─▶ runner.py (engine, one result file each: results.py) ─▶ report.py
                     │  checking.py (math-verify, letters)   judge.py (HarmBench)
                     └─ realtime.py: speakable.py chunks + tts.py speech ─▶ delay metrics
    speaker.py: `asyncthink run --speak / --speak-to`
"""
