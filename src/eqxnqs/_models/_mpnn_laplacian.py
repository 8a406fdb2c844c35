r"""The MPNN's exact gradient and Laplacian, forward mode, written out for its structure.

folx's forward Laplacian carries every intermediate array together with its
Jacobian over all ``N * D`` coordinates and its Laplacian, and it applies
each operation of the forward pass as written. This module carries the same
triple (a `_Jet`) through `eqxnqs.MPNN`'s layers but uses three facts about
the network that a generic tracer does not see:

1. **Pair-local edges.** Until the first softmax, an edge state depends on
   ``u = x_i - x_j`` alone, so its Jacobian has ``D`` columns, not ``N D``
   (a pair jet: the derivative along ``u``; the weighted Laplacian over
   ``x_i`` and ``x_j`` is ``sum_d (w_id + w_jd) d^2/du_d^2``). The edge
   embedding and the first layer's keys, values and logits cost O(N^2 D).
2. **Constants.** Every node starts from the same learned vector, which does
   not depend on ``x``: the first layer's queries, and the node parts of its
   keys and values, carry no Jacobian at all.
3. **Node terms of edge maps.** A linear map of ``[e_ij, h_i, h_j]`` is
   ``W_e e_ij + W_i h_i + W_j h_j``: the node terms are multiplied once per
   node (N rows) and then gathered to the edges, instead of once per edge.
4. **Attention as contractions.** Once nodes and edges depend on every
   particle, keys and values are not formed per edge: the logits and the
   messages are bilinear in node and edge states, and each of their
   Jacobians is one contraction of an edge Jacobian with a value
   (`_contract`, `_dense_messages`).

The result is the same function's derivatives to rounding (tests: against
NetKet's Hessian and folx, 1e-10).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._mpnn_graph import edge_features, neighbours


class _Jet(NamedTuple):
    """An array with its Jacobian and weighted Laplacian over the coordinates.

    - ``jac``: ``(T, *value.shape)``; ``None`` for a constant. Dense jets use
      the ``T = N D`` coordinates scaled by ``sqrt(w)``, so the sum of
      squares over ``T`` is the weighted one; pair jets use ``T = D``
      derivatives along ``u = x_i - x_j`` and carry `metric`.
    - ``lap``: ``sum_k w_k d^2 value / dx_k^2`` (``None`` for a constant).
    - ``metric``: pair jets only, ``(D, N, N - 1)``: ``w_i + w_j`` per axis.
    """

    value: Array
    jac: Array | None = None
    lap: Array | None = None
    metric: Array | None = None

    @property
    def constant(self) -> bool:
        return self.jac is None


def _inner(a: Array, b: Array, metric: Array | None) -> Array:
    """``sum_k w_k (d a / dx_k)(d b / dx_k)`` from two Jacobians of one kind."""
    if metric is None:
        return jnp.sum(a * b, axis=0)
    metric = metric.reshape(metric.shape + (1,) * (a.ndim - metric.ndim))
    return jnp.sum(metric * a * b, axis=0)


def _linear(jet: _Jet, weight: Array, bias: Array | None = None) -> _Jet:
    """``value @ weight.T + bias`` on the last axis."""
    value = jet.value @ weight.T
    if bias is not None:
        value = value + bias
    if jet.constant:
        return _Jet(value)
    return _Jet(value, jet.jac @ weight.T, jet.lap @ weight.T, jet.metric)


def _elementwise(jet: _Jet, fn) -> _Jet:
    """``fn`` applied elementwise, with the chain rule to second order."""
    value = fn(jet.value)
    if jet.constant:
        return _Jet(value)
    ones = jnp.ones_like(jet.value)
    first = jax.jvp(fn, (jet.value,), (ones,))[1]
    second = jax.jvp(lambda y: jax.jvp(fn, (y,), (jnp.ones_like(y),))[1], (jet.value,), (ones,))[1]
    lap = first * jet.lap + second * _inner(jet.jac, jet.jac, jet.metric)
    return _Jet(value, first * jet.jac, lap, jet.metric)


def _mul(a: _Jet, b: _Jet) -> _Jet:
    """Elementwise product (broadcasting values); both non-constant ones of one kind."""
    value = a.value * b.value
    if a.constant and b.constant:
        return _Jet(value)
    if a.constant or b.constant:
        const, var = (a, b) if a.constant else (b, a)
        return _Jet(value, const.value * var.jac, const.value * var.lap, var.metric)
    assert (a.metric is None) == (b.metric is None)
    jac = a.value * b.jac + b.value * a.jac
    lap = a.value * b.lap + b.value * a.lap + 2.0 * _inner(a.jac, b.jac, a.metric)
    return _Jet(value, jac, lap, a.metric)


def _contract(spec: str, a: _Jet, b: _Jet) -> _Jet:
    """``einsum(spec, a, b)`` of two dense jets (a bilinear map), by the product rule.

    Nothing of the size of a Jacobian times the broadcast product is formed:
    each term is one contraction of a Jacobian with the other value.
    """
    assert a.metric is None and b.metric is None, "contractions take dense jets"
    value = jnp.einsum(spec, a.value, b.value)
    if a.constant and b.constant:
        return _Jet(value)
    inputs, out = spec.split("->")
    left, right = inputs.split(",")
    jac, lap = [], []
    if not a.constant:
        jac.append(jnp.einsum(f"t{left},{right}->t{out}", a.jac, b.value))
        lap.append(jnp.einsum(spec, a.lap, b.value))
    if not b.constant:
        jac.append(jnp.einsum(f"{left},t{right}->t{out}", a.value, b.jac))
        lap.append(jnp.einsum(spec, a.value, b.lap))
    if not (a.constant or b.constant):
        lap.append(2.0 * jnp.einsum(f"t{left},t{right}->{out}", a.jac, b.jac))
    return _Jet(value, sum(jac), sum(lap))


def _sum(jet: _Jet, axis: int) -> _Jet:
    """Sum over value axis ``axis`` (non-negative; not over pairs for a pair jet)."""
    assert jet.metric is None or axis >= 2, "a sum over pairs needs a dense jet"
    value = jnp.sum(jet.value, axis=axis)
    if jet.constant:
        return _Jet(value)
    return _Jet(value, jnp.sum(jet.jac, axis=axis + 1), jnp.sum(jet.lap, axis=axis), jet.metric)


def _apply(jet: _Jet, fn) -> _Jet:
    """A linear index operation ``fn`` of the value axes (reshape, gather, broadcast)."""
    if jet.constant:
        return _Jet(fn(jet.value))
    return _Jet(fn(jet.value), jax.vmap(fn)(jet.jac), fn(jet.lap), jet.metric)


class _Expander(NamedTuple):
    """Turns pair jets into dense ones and adds jets of either kind."""

    scale: Array  # (N, D): sqrt(w)
    selector: Array  # (N, N, N - 1): [k, i, s] = [k == i] - [k == partner(i, s)]

    def dense(self, jet: _Jet) -> _Jet:
        if jet.constant or jet.metric is None:
            return jet
        jac = jnp.einsum("kd,kis,dis...->kdis...", self.scale, self.selector, jet.jac)
        n, d = self.scale.shape
        return _Jet(jet.value, jac.reshape((n * d,) + jet.value.shape), jet.lap)

    def weighted_pair_sum(self, weights: _Jet, pairs: _Jet) -> _Jet:
        """``sum_s weights[i, s, h] pairs[i, s, h, c]``: a dense jet ``(N, N - 1, heads)``
        times a pair jet ``(N, N - 1, heads, c)``, summed over the partners, without
        expanding the pair jet (its Jacobian enters through `selector`)."""
        n, d = self.scale.shape
        value = jnp.einsum("ish,ishc->ihc", weights.value, pairs.value)
        # d(pairs[i, s]) / dx_kd = scale[k, d] selector[k, i, s] pairs.jac[d, i, s]
        moved = jnp.einsum("ish,dishc->dishc", weights.value, pairs.jac)
        jac = jnp.einsum("kd,kis,dishc->kdihc", self.scale, self.selector, moved)
        jac = jac.reshape((n * d,) + value.shape)
        jac = jac + jnp.einsum("tish,ishc->tihc", weights.jac, pairs.value)
        along = weights.jac.reshape((n, d) + weights.value.shape)
        along = jnp.einsum("kdish,kd,kis->dish", along, self.scale, self.selector)
        lap = (
            jnp.einsum("ish,ishc->ihc", weights.lap, pairs.value)
            + jnp.einsum("ish,ishc->ihc", weights.value, pairs.lap)
            + 2.0 * jnp.einsum("dish,dishc->ihc", along, pairs.jac)
        )
        return _Jet(value, jac, lap)

    def add(self, *jets: _Jet) -> _Jet:
        value = sum(jet.value for jet in jets)
        varying = [jet for jet in jets if not jet.constant]
        if not varying:
            return _Jet(value)
        if any(jet.metric is None for jet in varying):
            varying = [self.dense(jet) for jet in varying]
        shape = (varying[0].jac.shape[0],) + value.shape
        jac = sum(jnp.broadcast_to(jet.jac, shape) for jet in varying)
        lap = sum(jnp.broadcast_to(jet.lap, value.shape) for jet in varying)
        return _Jet(value, jac, lap, varying[0].metric)


def _mlp(ops: _Expander, mlp, inputs: list[_Jet], expand=None) -> _Jet:
    """``mlp(concatenate(inputs))``: the first layer as a sum of per-input maps.

    ``expand[k]`` (optional) lifts the k-th input's first-layer term to the
    output's shape (gathering node terms to edges), after its product.
    """
    first = mlp.layers[0]
    sizes = np.cumsum([0] + [jet.value.shape[-1] for jet in inputs])
    terms = []
    for k, jet in enumerate(inputs):
        term = _linear(jet, first.weight[:, sizes[k] : sizes[k + 1]])
        if expand is not None and expand[k] is not None:
            term = _apply(term, expand[k])
        terms.append(term)
    if first.bias is not None:
        terms.append(_Jet(first.bias))
    x = ops.add(*terms)
    for layer in mlp.layers[1:]:
        if mlp.activation is not None:
            x = _elementwise(x, mlp.activation)
        x = _linear(x, layer.weight, layer.bias)
    if mlp.final_activation is not None:
        x = _elementwise(x, mlp.final_activation)
    return x


def _softmax(ops: _Expander, logits: _Jet, axis: int) -> _Jet:
    """Softmax over value axis ``axis``; the max is subtracted as a constant (exact)."""
    logits = ops.dense(logits)
    shift = jax.lax.stop_gradient(jnp.max(logits.value, axis=axis, keepdims=True))
    exponentials = _elementwise(ops.add(logits, _Jet(-shift)), jnp.exp)
    inverse = _elementwise(_sum(exponentials, axis), lambda s: 1.0 / s)
    return _mul(exponentials, _apply(inverse, lambda v: jnp.expand_dims(v, axis)))


def _dense_messages(ops: _Expander, layer, h: _Jet, e: _Jet, partners) -> _Jet:
    """The attention's messages ``(N, width)`` for dense node and edge jets.

    The same numbers as the general route of `_layer`, reordered so that no
    key or value is formed per edge: with ``k_ij = K_h h_j + K_e e_ij``, the
    logits are ``q_i . K_h h_j`` (a node-by-node product, gathered to the
    edges) plus ``(K_e^T q_i) . e_ij``, and with ``v_ij = V_h h_j + V_e
    e_ij`` the messages are ``sum_j a_ij V_h h_j`` (the attention as an
    ``N x N`` matrix) plus ``V_e sum_j a_ij e_ij``. Each edge Jacobian is
    read by a contraction instead of multiplied out.
    """
    n, m = partners.shape
    heads, node = layer.n_heads, h.value.shape[-1]
    width = layer.to_query.weight.shape[0]

    def per_head(weight):  # (width, in) -> (heads, width / heads, in)
        return weight.reshape(heads, width // heads, -1)

    key_node = per_head(layer.to_key.weight[:, :node])
    key_edge = per_head(layer.to_key.weight[:, node:])
    value_node = per_head(layer.to_value.weight[:, :node])
    value_edge = per_head(layer.to_value.weight[:, node:])

    def node_map(weight):  # (heads, c, in): node states (N, in) -> (N, heads, c)
        return lambda v: jnp.einsum("...i,hci->...hc", v, weight)

    q = _apply(h, node_map(per_head(layer.to_query.weight)))
    keys = _apply(h, node_map(key_node))
    rows = np.arange(n)[:, None]
    by_nodes = _apply(_contract("ihc,jhc->ijh", q, keys), lambda v: v[rows, partners])
    query_edge = _apply(q, lambda v: jnp.einsum("ihc,hcg->ihg", v, key_edge))
    by_edges = _contract("ihg,img->imh", query_edge, e)
    logits = _apply(ops.add(by_nodes, by_edges), lambda v: v / np.sqrt(width // heads))
    attention = _softmax(ops, logits, axis=1)  # (N, N - 1, heads)
    # the attention as (N, N, heads), zero on the diagonal: a[i, j] = a[i, (j - i - 1) mod N]
    slot = (np.arange(n)[None, :] - np.arange(n)[:, None] - 1) % n
    off_diagonal = (1.0 - np.eye(n))[..., None]
    matrix = _apply(attention, lambda v: v[rows, np.minimum(slot, m - 1)] * off_diagonal)
    from_nodes = _contract("ijh,jhc->ihc", matrix, _apply(h, node_map(value_node)))
    summed_edges = _contract("imh,img->ihg", attention, e)
    from_edges = _apply(summed_edges, lambda v: jnp.einsum("ihg,hcg->ihc", v, value_edge))
    return _apply(ops.add(from_nodes, from_edges), lambda v: v.reshape(n, -1))


def _layer(ops: _Expander, layer, h: _Jet, e: _Jet, partners) -> tuple[_Jet, _Jet]:
    n, m = partners.shape

    def to_edges_at_partner(v):
        return v[partners]

    def to_edges_at_self(v):
        return jnp.broadcast_to(v[:, None], (n, m) + v.shape[1:])

    if h.constant or e.constant or e.metric is not None:
        messages = _pair_messages(ops, layer, h, e, partners)
    else:
        messages = _dense_messages(ops, layer, h, e, partners)
    h = ops.add(h, _mlp(ops, layer.node_update, [h, messages]))
    update = _mlp(
        ops, layer.edge_update, [e, h, h], expand=[None, to_edges_at_self, to_edges_at_partner]
    )
    return h, ops.add(e, update)


def _pair_messages(ops: _Expander, layer, h: _Jet, e: _Jet, partners) -> _Jet:
    """The attention's messages ``(N, width)`` as the forward pass writes them: keys
    and values per edge. For the first layer, whose edge jets are pair jets and
    whose nodes are constant."""
    n, m = partners.shape
    heads = layer.n_heads

    def pair_map(linear):  # linear([h_j, e_ij]) = W_h h_j + W_e e_ij
        node = h.value.shape[-1]
        at_partner = _apply(_linear(h, linear.weight[:, :node]), lambda v: v[partners])
        return ops.add(at_partner, _linear(e, linear.weight[:, node:]))

    q = _apply(_linear(h, layer.to_query.weight), lambda v: v.reshape(n, heads, -1))
    k = _apply(pair_map(layer.to_key), lambda v: v.reshape(n, m, heads, -1))
    v = _apply(pair_map(layer.to_value), lambda v: v.reshape(n, m, heads, -1))
    q_at_edges = _apply(q, lambda v: v[:, None])
    if not q.constant and k.metric is not None:
        k = ops.dense(k)
    logits = _sum(_mul(q_at_edges, k), axis=3)
    logits = _apply(logits, lambda v: v / np.sqrt(q.value.shape[-1]))
    attention = _softmax(ops, logits, axis=1)
    if v.metric is not None:
        return _apply(ops.weighted_pair_sum(attention, v), lambda v: v.reshape(n, -1))
    weighted = _mul(_apply(attention, lambda v: v[..., None]), ops.dense(v))
    return _apply(_sum(weighted, axis=1), lambda v: v.reshape(n, -1))


def mpnn_grad_and_laplacian(model, x: Array, weights) -> tuple[Array, Array]:
    """``d log psi / dx`` (``(N D,)``) and ``sum_k w_k d^2 log psi / dx_k^2`` of an MPNN."""

    n, dim = model.n_particles, model.dim
    w = jnp.broadcast_to(jnp.asarray(weights, dtype=x.dtype), x.shape).reshape(n, dim)
    partners = neighbours(n)
    own = np.arange(n)[:, None, None] == np.arange(n)[None, :, None]
    other = np.arange(n)[:, None, None] == partners[None]
    ops = _Expander(jnp.sqrt(w), jnp.asarray(own.astype(float) - other.astype(float)))
    metric = (w[:, None, :] + w[partners]).transpose(2, 0, 1)  # (D, N, N - 1)

    positions = x.reshape(n, dim)
    box = jnp.asarray(model.box, dtype=x.dtype)
    u = positions[:, None, :] - positions[partners]

    def features(u):
        return edge_features(u, box)

    first, second = [], []
    for axis in range(dim):
        direction = jnp.zeros_like(u).at[..., axis].set(1.0)

        def along(u, direction=direction):
            return jax.jvp(features, (u,), (direction,))[1]

        first.append(along(u))
        second.append(jax.jvp(along, (u,), (direction,))[1])
    lap = sum(metric[axis][..., None] * second[axis] for axis in range(dim))
    e = _Jet(features(u), jnp.stack(first), lap, metric)
    e = _linear(e, model.edge_embedding.weight, model.edge_embedding.bias)
    h = _Jet(jnp.broadcast_to(model.node_init, (n, model.node_features)))
    for layer in model.layers:
        h, e = _layer(ops, layer, h, e, partners)
    r = _sum(_mlp(ops, model.readout, [e]), axis=2)
    log_psi = _sum(_sum(ops.dense(r), axis=1), axis=0)
    scale = jnp.sqrt(w).reshape(-1)
    return 0.5 * log_psi.jac / scale, 0.5 * log_psi.lap
