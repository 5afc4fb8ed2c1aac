"""`asyncthink bench`: the speed figures of DESIGN.md section 3, in one command with a table and JSON.

    asyncthink bench [--sections step,control,listen,throughput] [--contexts 512,2048,8192] [--json out.json]

    main.py        options, model loading, runs the sections, targets, printing, JSON
      ├─ step.py        two-stream step vs ordinary HF decode vs naive re-rotation, per context
      ├─ control.py     the control question's share of a session's decode time
      ├─ listen.py      heard tokens made visible vs a restart prefill, per context
      └─ throughput.py  1, 4, 8, 16 sessions decoded together in one Engine
    synthetic.py   block tables and HF caches filled with random keys/values (no prefill)
    timing.py      device-synchronised wall time, round-robin schedules
    conditions.py  machine, versions, model shape, load: stored with every figure
    table.py       plain-text tables

Defaults follow the device: on CPU random weights of Qwen3-0.6B's shape in float32 at
contexts 512, 2048, 8192; with CUDA Qwen3-8B's shape in bfloat16 at 2048, 8192, 32768.
"""

from .main import main, run_all

__all__ = ["main", "run_all"]
