"""The engine's flat view of a network: arrays that every backend steps.

Numbering: dynamic populations first (columns of the state matrix ``S``),
then sources, each node a contiguous range of global indices.

Time stepping (identical in every backend), for step ``t``:

1. state monitors record;
2. each population's step function advances it and reports spikes; sources
   emit their spikes for step ``t``;
3. for every node, every outgoing projection, every spike of that node in
   index order, every synapse in CSR order: the weight is added to the
   target receptor, straight into ``S`` for a synapse of delay 0 and into
   ring-buffer slot ``(t + delay) % D`` otherwise;
4. Poisson inputs add their draws to slot ``t``;
5. slot ``t % D`` (input due by the end of step ``t``) is added to the
   receptor rows of ``S`` where it is nonzero (so a backend may visit only
   the entries that received input) and cleared.

A synapse with delay ``d`` steps thus changes the target's receptor variable
after step ``t + d`` (before the update of step ``t + d + 1``): Brian2's
order (update, threshold, synaptic propagation, reset) with its rounding of
delays to whole steps.  Additions into one receptor value happen in that
order: delay-0 synapses one by one as in Brian2, then the ring slot's sum.
The state after a run therefore includes everything its last step sent
(Brian2's too).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..projection import BY_SIGN


@dataclasses.dataclass
class CompiledNetwork:
    """Arrays describing a built network (see the module docstring)."""

    S: np.ndarray                  # float64 [rows, n_dyn] state
    buffer: np.ndarray             # float64 [D, 2, n_dyn] ring buffer of arriving input
    pop_kind: np.ndarray           # int64 [P] index into the backend's model registry
    pop_start: np.ndarray          # int64 [P]
    pop_stop: np.ndarray           # int64 [P]
    pop_coef: np.ndarray           # float64 [P, C] step coefficients
    pop_receptor_rows: np.ndarray  # int64 [P, 2]
    pop_steps: list                # the models' step functions (NumPy backend)
    node_start: np.ndarray         # int64 [n_nodes + 1] global index ranges
    node_proj_ptr: np.ndarray      # int64 [n_nodes + 1] CSR of projections per node
    node_proj: np.ndarray          # int64 [Q] projection ids, grouped by node
    proj_ptr_offset: np.ndarray    # int64 [Q] offset of the projection's row pointers in ``indptr``
    proj_post_base: np.ndarray     # int64 [Q] first column of the post population
    proj_receptor: np.ndarray      # int64 [Q] 0 exc, 1 inh, -1 by sign
    proj_magnitude: np.ndarray     # int64 [Q] 1 if the target takes |w| (conductances)
    proj_uniform: np.ndarray       # int64 [Q] first synapse if all weights and delays are equal, else -1
    indptr: np.ndarray             # int64 concatenated row pointers (absolute synapse ids)
    post: np.ndarray               # int32 [n_syn]
    weight: np.ndarray             # float64 [n_syn]; a uniform projection: only at its first synapse (see below)
    delay: np.ndarray              # uint16 [n_syn]; likewise
    out_degree: np.ndarray         # int64 [n_total] synapses per global neuron
    node_of: np.ndarray            # int32 [n_total]

    @property
    def n_dyn(self) -> int:
        return self.S.shape[1]

    @property
    def n_nodes(self) -> int:
        return len(self.node_start) - 1

    @property
    def ring_size(self) -> int:
        return self.buffer.shape[0]

    @property
    def max_delay_steps(self) -> int:
        """Largest synaptic delay in steps (0 without synapses); the ring buffer is written only if > 0 or
        the network has Poisson inputs."""
        return int(self.delay.max(initial=0))

    def synapse_values(self, q: int, syn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights (float64) and delays (int64 steps) of synapses ``syn`` of projection ``q``.

        A uniform projection (``proj_uniform[q] >= 0``) stores its weight and
        delay at its first synapse only; the rest of its range in ``weight``
        and ``delay`` is never written (and, being calloc'd, holds no memory).
        """
        u = int(self.proj_uniform[q])
        if u < 0:
            return self.weight[syn], self.delay[syn].astype(np.int64)
        return np.full(syn.size, self.weight[u]), np.full(syn.size, int(self.delay[u]), dtype=np.int64)


def concatenate_projections(projections, node_ids, node_start, n_nodes, n_total):
    """Concatenate built projections into one CSR and give each views into it.

    Returns the synapse arrays and per-projection tables of
    :class:`CompiledNetwork`; afterwards every projection's arrays are views
    into the shared arrays, so each synapse is stored once.  A projection
    with one weight and one delay writes them at its first synapse only and
    keeps read-only views of the two values: its share of ``weight`` and
    ``delay`` (allocated zeroed, so untouched pages cost no memory) is never
    written, which saves 10 of its 14 bytes per synapse and their writing.
    """
    order = sorted(range(len(projections)), key=lambda q: node_ids[id(projections[q].pre)])
    projections = [projections[q] for q in order]
    n_syn = sum(p.n_synapses for p in projections)
    post = np.empty(n_syn, dtype=np.int32)
    weight = np.zeros(n_syn, dtype=np.float64)
    delay = np.zeros(n_syn, dtype=np.uint16)
    indptr = np.empty(sum(p.pre.n + 1 for p in projections), dtype=np.int64)
    ptr_offset = np.empty(len(projections), dtype=np.int64)
    post_base = np.empty(len(projections), dtype=np.int64)
    receptor = np.empty(len(projections), dtype=np.int64)
    magnitude = np.empty(len(projections), dtype=np.int64)
    uniform = np.full(len(projections), -1, dtype=np.int64)
    node_proj_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    out_degree = np.zeros(n_total, dtype=np.int64)
    s = r = 0
    for q, proj in enumerate(projections):
        k, m = proj.n_synapses, proj.pre.n + 1
        post[s:s + k] = proj.post_index
        w, d = proj.weight, proj.delay_steps
        if k and _single_value(w) and _single_value(d):
            uniform[q] = s
            weight[s], delay[s] = w[0], d[0]
            proj.weight = np.broadcast_to(weight[s:s + 1], (k,))
            proj.delay_steps = np.broadcast_to(delay[s:s + 1], (k,))
        else:
            weight[s:s + k] = w
            delay[s:s + k] = d
            proj.weight, proj.delay_steps = weight[s:s + k], delay[s:s + k]
        indptr[r:r + m] = proj.indptr + s
        proj.post_index = post[s:s + k]
        proj.indptr = indptr[r:r + m] - s
        nid = node_ids[id(proj.pre)]
        ptr_offset[q] = r
        post_base[q] = node_start[node_ids[id(proj.post)]]
        receptor[q] = proj.receptor
        magnitude[q] = int(proj.post.model.conductance_based and proj.receptor == BY_SIGN)
        node_proj_ptr[nid + 1] += 1
        first = int(node_start[nid])
        out_degree[first:first + proj.pre.n] += np.diff(proj.indptr)
        s, r = s + k, r + m
    return dict(
        node_proj_ptr=np.cumsum(node_proj_ptr), node_proj=np.arange(len(projections), dtype=np.int64),
        proj_ptr_offset=ptr_offset, proj_post_base=post_base, proj_receptor=receptor,
        proj_magnitude=magnitude, proj_uniform=uniform, indptr=indptr, post=post, weight=weight, delay=delay,
        out_degree=out_degree,
    ), projections


def _single_value(a: np.ndarray) -> bool:
    """True if every element of the 1-D array ``a`` equals the first (a broadcast scalar is checked in O(1))."""
    if a.strides[0] == 0:
        return True
    return bool(a.min() == a.max())
