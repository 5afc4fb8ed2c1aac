"""Step planning: which rows a forward pass computes and what each row may see.

Plain Python on host integers; tensors are made from the result in attention.py.

A *chunk* is the run of tokens one stream feeds in one forward pass (one token when
decoding, many when prefilling a block). All chunks of a step are packed into one
sequence of rows (batch 1), so thinker, writer and a control question share one
forward pass and one read of the weights.

For every block b that some row may see, and every row r writing block w at local
position j in a view with offsets o:

    delta[b][r]       = o_w - o_b          extra query rotation for keys of b
    visible_end[b][r] = len_b              if b comes before w in r's view
                      = j + 1              if b == w            (causal)
                      = 0                  otherwise            (invisible)

Lengths are taken after this step's tokens are recorded, so a stream sees tokens the
other stream writes in the same step into a block before its own (as the paper's code
does); a stream never sees blocks placed after the one it writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .blocks import BlockTable


@dataclass(frozen=True)
class Chunk:
    stream: str
    view: tuple[str, ...]  # blocks the stream reads, in order
    block: str  # the block it writes; must be in `view`
    tokens: list[int]
    want_logits: bool = True  # logits of the chunk's last row are returned


@dataclass
class BlockRows:
    name: str
    runs: list[tuple[int, int, int]]  # its tokens' arena slots as runs: (first slot, first local position, length)
    length: int
    delta: list[int]
    visible_end: list[int]

    @property
    def start(self) -> int:
        """The block's first arena slot."""
        return self.runs[0][0]


@dataclass
class ChunkRows:
    chunk: Chunk
    first_row: int
    offsets: dict[str, int]  # view offsets after this step's writes, blocks up to `block`


@dataclass
class RowGroup:
    """Consecutive rows that see only `blocks` (one session's), attended to separately."""

    first_row: int
    rows: int
    blocks: list[BlockRows]


@dataclass
class StepPlan:
    input_ids: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # local position in the written block
    slots: list[int] = field(default_factory=list)  # arena slot each row's key goes to (in its block's pages)
    chunks: list[ChunkRows] = field(default_factory=list)
    blocks: list[BlockRows] = field(default_factory=list)
    groups: list[RowGroup] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.input_ids)

    @property
    def logit_rows(self) -> list[int]:
        return [c.first_row + len(c.chunk.tokens) - 1 for c in self.chunks if c.chunk.want_logits]


def plan_step(chunks: list[Chunk], table: BlockTable) -> StepPlan:
    """Record every chunk's tokens in the block table and lay out the rows of one pass."""
    plan = StepPlan()
    for chunk in chunks:
        if not chunk.tokens:
            raise ValueError(f"empty chunk for stream {chunk.stream!r}")
        if chunk.block not in chunk.view:
            raise ValueError(f"stream {chunk.stream!r} writes {chunk.block!r} outside its view")
        positions, slots = table.append(chunk.block, chunk.tokens)
        plan.chunks.append(ChunkRows(chunk, len(plan.input_ids), {}))
        plan.input_ids.extend(chunk.tokens)
        plan.positions.extend(positions)
        plan.slots.extend(slots)

    seen: dict[str, BlockRows] = {}
    for rows in plan.chunks:
        view = rows.chunk.view
        visible = view[: view.index(rows.chunk.block) + 1]
        rows.offsets = table.offsets(visible)
        for name in visible:
            block = table[name]
            if block.length and name not in seen:
                seen[name] = BlockRows(name, table.runs(name), block.length, [0] * plan.rows, [0] * plan.rows)
    plan.blocks = sorted(seen.values(), key=lambda b: b.start)

    for rows in plan.chunks:
        written = rows.chunk.block
        for r in range(rows.first_row, rows.first_row + len(rows.chunk.tokens)):
            for block in plan.blocks:
                if block.name not in rows.offsets:
                    continue
                block.delta[r] = rows.offsets[written] - rows.offsets[block.name]
                block.visible_end[r] = plan.positions[r] + 1 if block.name == written else block.length
    plan.groups = _row_groups(plan)
    return plan


def _row_groups(plan: StepPlan) -> list[RowGroup]:
    """Split the rows into runs of chunks whose views share no block (sessions of an engine), so
    attention work grows with each session's own context, not with everybody's."""
    groups: list[tuple[int, int, set[str]]] = []  # (first_row, end_row, block names)
    for rows in plan.chunks:
        names = set(rows.offsets)
        end = rows.first_row + len(rows.chunk.tokens)
        if groups and groups[-1][2] & names:
            first, _, seen = groups[-1]
            groups[-1] = (first, end, seen | names)
        else:
            groups.append((rows.first_row, end, names))
    for i, (_, _, names) in enumerate(groups):  # a view reaching into a non-adjacent group: one group
        if any(names & other for other in (g[2] for g in groups[i + 1 :])):
            return [RowGroup(0, plan.rows, plan.blocks)]
    return [RowGroup(first, end - first, [b for b in plan.blocks if b.name in names]) for first, end, names in groups]
