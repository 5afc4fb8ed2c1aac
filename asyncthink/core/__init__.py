"""The tensor side: one KV arena, blocks placed by rotation, one packed forward pass per step.

    Chunk (plan.py) ─▶ plan_step: rows, local positions, per-(row, block) deltas, visibility
         │                (plain Python over the block table, blocks.py)
         ▼
    runner.py ─ one forward of the HF model; adapter.py routes its attention calls to
         │        attention.py (eager block attention: rotate each query once per block it
         │        reads, rotary.py) or, for decode steps, the static-shape step
         │        (static_plan.py: padded to power-of-two buckets; arena_attention.py),
         │        replayed from CUDA graphs on CUDA (graphs.py)
         ▼
    arena.py ─ keys/values [layers, kv_heads, capacity, head_dim], written in place,
               never moved or re-rotated
    cpu_linears.py ─ oneDNN-prepacked linears for CPU float32 (2-row steps at 1-row cost)

Nothing here knows about thinkers, writers or questions: that is session/ and layout.py.
"""
