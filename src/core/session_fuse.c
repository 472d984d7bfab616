/* Step fusion of a compiled session (see session_int.h): which steps run
 * inside another step's store, decided once before memory is planned. */
#include <math.h>
#include "core/pattern.h"
#include "core/session_int.h"

/* A scalar float32 constant input of node c, or 0 (absent or not one). */
static int const_f32(const mn_session *s, const mn_node *c, int slot,
                     float *out)
{
    int v = slot < c->n_in ? c->in[slot] : -1;
    const mn_tensor *t = v >= 0 ? &s->vt[v] : NULL;
    if (!t || s->kind[v] != MN_VK_CONST || t->dtype != MN_DT_F32 ||
        mn_tensor_numel(t) != 1 || !t->data)
        return 0;
    *out = *(const float *)t->data;
    return 1;
}

/* Reads a Clip bound: an attribute (opset < 11) or a constant scalar
 * input; absent means unbounded. Returns 0 when it is not a constant. */
static int clip_bound(const mn_session *s, const mn_node *c, int slot,
                      const char *attr, float dflt, float *out)
{
    *out = dflt;
    if (c->opset < 11) {
        *out = mn_node_attr_float(c, attr, dflt);
        return 1;
    }
    if (c->n_in <= slot || c->in[slot] < 0)
        return 1;
    return const_f32(s, c, slot, out);
}

/* The step that reads value v, when exactly one step does (else NULL). */
static step *sole_reader(mn_session *s, int from, int v)
{
    const mn_graph *g = s->g;
    if (v < 0 || g->values[v].is_output || mn_graph_use_count(g, v) != 1)
        return NULL;
    for (int q = from; q < s->n_steps; q++) {
        const mn_node *c = &g->nodes[s->steps[q].node];
        for (int j = 0; j < c->n_in; j++)
            if (c->in[j] == v)
                return &s->steps[q];
    }
    return NULL;
}

/* Relu, Clip with constant bounds, Sigmoid, HardSigmoid or HardSwish
 * reading v as input 0. */
static int as_activation(const mn_session *s, const step *sq, int v,
                         mn_fused_act *act)
{
    const mn_node *c = &s->g->nodes[sq->node];
    if (c->in[0] != v || c->n_out != 1 || c->out[0] < 0)
        return 0;
    switch (c->op) {
    case MN_OP_RELU:
        act->kind = MN_FUSED_RELU;
        return 1;
    case MN_OP_SIGMOID:
        act->kind = MN_FUSED_SIGMOID;
        return 1;
    case MN_OP_HARDSWISH:
        act->kind = MN_FUSED_HARDSWISH;
        act->lo = 1.0f / 6.0f;
        act->hi = 0.5f;
        return 1;
    case MN_OP_HARDSIGMOID:
        act->kind = MN_FUSED_HARDSIGMOID;
        act->lo = mn_node_attr_float(c, "alpha", 0.2f);
        act->hi = mn_node_attr_float(c, "beta", 0.5f);
        return 1;
    case MN_OP_CLIP:
        act->kind = MN_FUSED_CLIP;
        return clip_bound(s, c, 1, "min", -3.402823466e38f, &act->lo) &&
               clip_bound(s, c, 2, "max", 3.402823466e38f, &act->hi);
    default:
        return 0;
    }
}

/* A self-gate as exported: v read by exactly G(v) → g and Mul(v, g)
 * (either order), g read only by that Mul; G is Sigmoid (SiLU) or
 * HardSigmoid (HardSwish before opset 14). Returns the Mul's step, sets
 * *sig to G's and *act. */
static step *as_gate(mn_session *s, int from, int v, step **sig,
                     mn_fused_act *act)
{
    const mn_graph *g = s->g;
    step *st[2] = {NULL, NULL};
    int n = 0;
    if (v < 0 || g->values[v].is_output || mn_graph_use_count(g, v) != 2)
        return NULL;
    for (int q = from; q < s->n_steps && n < 2; q++) {
        const mn_node *c = &g->nodes[s->steps[q].node];
        for (int j = 0; j < c->n_in; j++)
            if (c->in[j] == v) {
                st[n++] = &s->steps[q];
                break;
            }
    }
    if (n != 2)
        return NULL;
    const mn_node *a = &g->nodes[st[0]->node], *m = &g->nodes[st[1]->node];
    if ((a->op != MN_OP_SIGMOID && a->op != MN_OP_HARDSIGMOID) ||
        m->op != MN_OP_MUL || m->n_in != 2 ||
        a->in[0] != v || a->out[0] < 0 || m->out[0] < 0 ||
        sole_reader(s, (int)(st[0] - s->steps) + 1, a->out[0]) != st[1] ||
        !((m->in[0] == v && m->in[1] == a->out[0]) ||
          (m->in[1] == v && m->in[0] == a->out[0])))
        return NULL;
    *sig = st[0];
    act->kind = MN_FUSED_SILU;
    if (a->op == MN_OP_HARDSIGMOID) {
        act->kind = MN_FUSED_HARDSWISH;
        act->lo = mn_node_attr_float(a, "alpha", 0.2f);
        act->hi = mn_node_attr_float(a, "beta", 0.5f);
    }
    return st[1];
}

/* Add(v, r) or Add(r, v) with r of v's shape, ready before step k's node
 * runs: returns r's input slot's partner (the slot of v) or -1. */
static int as_residual_add(const mn_session *s, const step *sp,
                           const step *sq, int v, int *r)
{
    const mn_graph *g = s->g;
    const mn_node *c = &g->nodes[sq->node];
    if (c->op != MN_OP_ADD || c->n_in != 2 || c->n_out != 1 || c->out[0] < 0)
        return -1;
    int slot = c->in[0] == v ? 0 : 1, o = c->in[1 - slot];
    if (c->in[slot] != v || o < 0 || o == v)
        return -1;
    const mn_tensor *tv = &s->vt[v], *to = &s->vt[o];
    if (to->dtype != tv->dtype || to->ndim != tv->ndim ||
        s->kind[o] == MN_VK_UNUSED)
        return -1;
    for (int d = 0; d < tv->ndim; d++)
        if (to->dims[d] != tv->dims[d])
            return -1;
    if (g->values[o].producer >= sp->node) /* computed after the producer */
        return -1;
    *r = o;
    return slot;
}

/* Add(v, b) or Add(b, v) after a MatMul (step sp, output v) with a
 * constant float32 matrix B: b a constant of v's last dimension (shape
 * [n] or [1, ..., 1, n]), one value per output column. Returns the slot
 * of v or -1. */
static int as_bias_add(const mn_session *s, const step *sp, const step *sq,
                       int v, int *b)
{
    const mn_graph *g = s->g;
    const mn_node *mm = &g->nodes[sp->node], *c = &g->nodes[sq->node];
    if (mm->op != MN_OP_MATMUL || mm->in[1] < 0 ||
        s->kind[mm->in[1]] != MN_VK_CONST || s->vt[mm->in[1]].ndim != 2 ||
        c->op != MN_OP_ADD || c->n_in != 2 || c->n_out != 1 || c->out[0] < 0)
        return -1;
    int slot = c->in[0] == v ? 0 : 1, o = c->in[1 - slot];
    const mn_tensor *tv = &s->vt[v], *to = o >= 0 ? &s->vt[o] : NULL;
    if (c->in[slot] != v || !to || o == v || s->kind[o] != MN_VK_CONST ||
        !to->data || to->dtype != MN_DT_F32 || tv->ndim < 1 ||
        to->ndim > tv->ndim ||
        mn_tensor_numel(to) != tv->dims[tv->ndim - 1] ||
        (to->ndim >= 1 && to->dims[to->ndim - 1] != tv->dims[tv->ndim - 1]))
        return -1;
    *b = o;
    return slot;
}

/* Step sq (an Add fused into its producer) becomes a view of its input
 * `slot`; *v moves to its output. Returns that output's sole reader. */
static step *absorb_add(mn_session *s, step *sq, int slot, int *v)
{
    sq->view = 1;
    sq->view_slot = slot;
    sq->scratch_bytes = 0;
    *v = s->g->nodes[sq->node].out[0];
    return sole_reader(s, (int)(sq - s->steps) + 1, *v);
}

/* Fuses into an MN_OPF_FUSE_ACT step (Conv, Gemm) whose float output has a
 * single reader: a residual Add of a same-shape value computed earlier,
 * then a Relu or constant-bound Clip — applied in the producer's store.
 * The fused steps become views (their output is the producer's buffer).
 * Not with keep_values (pre-activation values would be lost) nor
 * training. */
static void fuse_acts(mn_session *s)
{
    const mn_graph *g = s->g;
    for (int k = 0; k + 1 < s->n_steps; k++) {
        step *sp = &s->steps[k];
        int v = g->nodes[sp->node].out[0], r = -1, slot;
        if (!(sp->def->flags & MN_OPF_FUSE_ACT) || sp->view || v < 0 ||
            s->vt[v].dtype != MN_DT_F32)
            continue;
        mn_fused_act gate = {MN_FUSED_NONE, 0.0f, 0.0f};
        step *sig = NULL, *sq = as_gate(s, k + 1, v, &sig, &gate);
        if (sq) {
            const mn_node *m = &g->nodes[sq->node];
            sp->act = gate;
            sig->view = sq->view = 1; /* both alias the producer's buffer */
            sig->view_slot = 0;
            sq->view_slot = m->in[0] == v ? 0 : 1;
            sig->scratch_bytes = sq->scratch_bytes = 0;
            continue;
        }
        sq = sole_reader(s, k + 1, v);
        if (!sq)
            continue;
        int bv;
        if ((slot = as_bias_add(s, sp, sq, v, &bv)) >= 0) {
            sp->bias = bv; /* a MatMul's bias, added in its store */
            if (!(sq = absorb_add(s, sq, slot, &v)))
                continue;
        }
        if ((slot = as_residual_add(s, sp, sq, v, &r)) >= 0) {
            sp->residual = r;
            if (!(sq = absorb_add(s, sq, slot, &v)))
                continue;
        }
        mn_fused_act act = {MN_FUSED_NONE, 0.0f, 0.0f};
        if (!as_activation(s, sq, v, &act))
            continue;
        sp->act = act;
        sq->view = 1; /* its output is the producer's, already activated */
        sq->view_slot = 0;
        sq->scratch_bytes = 0;
    }
}


/* The step running node ni, or NULL. */
static step *step_of(mn_session *s, int ni)
{
    for (int k = 0; k < s->n_steps; k++)
        if (s->steps[k].node == ni)
            return &s->steps[k];
    return NULL;
}

/* Step sp (node n) becomes a view of its input that holds v. */
static void view_of(step *sp, const mn_node *n, int v)
{
    sp->view = 1;
    sp->view_slot = n->in[0] == v ? 0 : 1;
    sp->scratch_bytes = 0;
}

/* GELU's exported erf chain (mn_pattern_gelu) runs as the activation of
 * x's producer when that is an MN_OPF_FUSE_ACT step with nothing fused yet
 * and x has no other reader; else as one Gelu step in place of the Div.
 * The other steps of the chain become views. */
static void fuse_gelu(mn_session *s)
{
    const mn_graph *g = s->g;
    for (int k = 0; k < s->n_steps; k++) {
        int chain[5], x, ok = 1;
        step *cs[5], *ps = NULL;
        if (s->steps[k].view || g->nodes[s->steps[k].node].op != MN_OP_DIV ||
            !mn_pattern_gelu(g, s->steps[k].node, chain, &x) ||
            s->vt[x].dtype != MN_DT_F32)
            continue;
        for (int c = 0; c < 5 && ok; c++)
            ok = (cs[c] = step_of(s, chain[c])) != NULL && !cs[c]->view;
        if (!ok)
            continue;
        if (g->values[x].producer >= 0)
            ps = step_of(s, g->values[x].producer);
        /* x may be a MatMul's fused bias Add (a view of the MatMul's
         * output, which x then is) */
        int xo = x;
        if (ps && ps->view && g->nodes[ps->node].op == MN_OP_ADD) {
            int u = g->nodes[ps->node].in[ps->view_slot];
            step *pp = u >= 0 && g->values[u].producer >= 0
                           ? step_of(s, g->values[u].producer)
                           : NULL;
            if (pp && pp->bias >= 0 && !pp->view &&
                g->nodes[pp->node].out[0] == u && pp->residual < 0) {
                ps = pp;
                xo = u;
            }
        }
        if (ps && !ps->view && (ps->def->flags & MN_OPF_FUSE_ACT) &&
            ps->act.kind == MN_FUSED_NONE &&
            g->nodes[ps->node].out[0] == xo && !g->values[x].is_output &&
            mn_graph_use_count(g, x) == 2) {
            ps->act.kind = MN_FUSED_GELU;
            view_of(cs[0], &g->nodes[chain[0]], x);
        } else {
            cs[0]->def = mn_op_get(MN_OP_GELU); /* reads input 0, x */
            cs[0]->scratch_bytes = 0;
        }
        for (int c = 1; c < 5; c++)
            view_of(cs[c], &g->nodes[chain[c]], g->nodes[chain[c - 1]].out[0]);
    }
}

/* The int8 graph's lookup activation: x (8-bit, from step p, read only
 * by the Cast) → Cast to int32/int64 → Gather(T, ·) with T a constant
 * 256-entry table of x's type, axis 0. An index then is x's byte (an int8
 * x indexes x + 256 when negative, as Gather does), so p applies T to its
 * output in place and the Cast and the Gather become views. */
static void fuse_lut(mn_session *s)
{
    const mn_graph *g = s->g;
    for (int k = 0; k < s->n_steps; k++) {
        step *gs = &s->steps[k], *cs, *ps;
        const mn_node *gn = &g->nodes[gs->node], *cn;
        if (gs->view || gn->op != MN_OP_GATHER || gn->n_in != 2 ||
            gn->in[0] < 0 || gn->in[1] < 0 || gn->out[0] < 0 ||
            mn_node_attr_int(gn, "axis", 0) != 0)
            continue;
        const mn_tensor *t = &s->vt[gn->in[0]];
        int ci = g->values[gn->in[1]].producer;
        if (s->kind[gn->in[0]] != MN_VK_CONST || !t->data || t->ndim != 1 ||
            t->dims[0] != 256 || (t->dtype != MN_DT_U8 &&
                                  t->dtype != MN_DT_I8) ||
            ci < 0 || !(cs = step_of(s, ci)) || cs->view ||
            sole_reader(s, (int)(cs - s->steps) + 1, gn->in[1]) != gs)
            continue;
        cn = &g->nodes[ci];
        int x = cn->in[0];
        if (cn->op != MN_OP_CAST || x < 0 || s->vt[x].dtype != t->dtype ||
            (s->vt[gn->in[1]].dtype != MN_DT_I32 &&
             s->vt[gn->in[1]].dtype != MN_DT_I64) ||
            g->values[x].producer < 0 ||
            !(ps = step_of(s, g->values[x].producer)) ||
            sole_reader(s, 0, x) != cs)
            continue;
        /* through same-buffer views (a Reshape between a QLinearConv run
         * as a MatMul and its lookup), each the sole reader of its
         * input: the table then applies to the buffer they all show */
        int xv = x;
        while (ps->view && (ps->def->flags & MN_OPF_VIEW) &&
               ps->view_slot == 0) {
            int up = g->nodes[ps->node].in[0];
            step *pp = up >= 0 && g->values[up].producer >= 0
                           ? step_of(s, g->values[up].producer)
                           : NULL;
            if (!pp || sole_reader(s, 0, up) != ps)
                break;
            xv = up;
            ps = pp;
        }
        if (ps->view || ps->lut || g->nodes[ps->node].out[0] != xv ||
            s->vt[xv].dtype != t->dtype)
            continue;
        ps->lut = t->data;
        view_of(cs, cn, x);
        view_of(gs, gn, gn->in[1]);
    }
}

/* A zero point input of node c (absent: 0): 1 when constant, one value. */
static int const_zp(const mn_session *s, const mn_node *c, int slot,
                    int32_t *out)
{
    int v = slot < c->n_in ? c->in[slot] : -1;
    *out = 0;
    if (v < 0)
        return 1;
    const mn_tensor *t = &s->vt[v];
    if (s->kind[v] != MN_VK_CONST || mn_tensor_numel(t) != 1 || !t->data ||
        (t->dtype != MN_DT_U8 && t->dtype != MN_DT_I8))
        return 0;
    *out = (int32_t)mn_tensor_get_i64(t, 0);
    return 1;
}

/* An MN_OPF_FUSE_QADD step (QLinearConv) whose 8-bit output v is read
 * only by a QLinearAdd(v, r) or (r, v) with r of v's dtype and shape,
 * computed before the step, constant per-tensor scales and zero points in
 * the fixed-point range and within the vector form's bound
 * (mn_qadd_fixed_vec_ok): the add runs in the step's store (its params
 * with v as operand a: swapping the operands swaps the multipliers and
 * zero points, and the sum commutes) and its step becomes a view. A
 * lookup table fused into the add moves to the step (it applies to the
 * same buffer, after the store). */
static void fuse_qadd(mn_session *s)
{
    const mn_graph *g = s->g;
    for (int k = 0; k + 1 < s->n_steps; k++) {
        step *sp = &s->steps[k], *sq;
        int v = g->nodes[sp->node].out[0];
        if (!(sp->def->flags & MN_OPF_FUSE_QADD) || sp->view || sp->lut ||
            sp->residual >= 0 || v < 0 ||
            (s->vt[v].dtype != MN_DT_U8 && s->vt[v].dtype != MN_DT_I8) ||
            !(sq = sole_reader(s, k + 1, v)) || sq->view)
            continue;
        const mn_node *c = &g->nodes[sq->node];
        if (c->op != MN_OP_QLINEARADD || c->n_in < 7 || c->n_out != 1 ||
            c->out[0] < 0 || c->in[0] == c->in[3])
            continue;
        int slot = c->in[0] == v ? 0 : c->in[3] == v ? 3 : -1;
        int o = slot < 0 ? -1 : c->in[3 - slot];
        if (o < 0 || s->kind[o] == MN_VK_UNUSED ||
            g->values[o].producer >= sp->node)
            continue;
        const mn_tensor *tv = &s->vt[v], *to = &s->vt[o];
        const mn_tensor *ty = &s->vt[c->out[0]];
        int same = to->dtype == tv->dtype && ty->dtype == tv->dtype &&
                   to->ndim == tv->ndim && ty->ndim == tv->ndim;
        for (int d = 0; same && d < tv->ndim; d++)
            same = to->dims[d] == tv->dims[d] && ty->dims[d] == tv->dims[d];
        float sa, sb, sc;
        mn_qadd_fixed fx;
        int32_t za, zb, zc;
        if (!same || !const_f32(s, c, 1, &sa) || !const_f32(s, c, 4, &sb) ||
            !const_f32(s, c, 6, &sc) || !const_zp(s, c, 2, &za) ||
            !const_zp(s, c, 5, &zb) || !const_zp(s, c, 7, &zc))
            continue;
        /* v as operand a */
        if (!mn_qadd_fixed_init(slot == 0 ? sa / sc : sb / sc,
                                slot == 0 ? sb / sc : sa / sc, &fx))
            continue;
        fx.za = slot == 0 ? za : zb;
        fx.zb = slot == 0 ? zb : za;
        fx.zc = zc;
        if (!mn_qadd_fixed_vec_ok(&fx, tv->dtype == MN_DT_I8))
            continue;
        sp->has_qres = 1;
        sp->qres = fx;
        sp->qadd_node = sq->node;
        sp->residual = o;
        sp->lut = sq->lut;
        sq->lut = NULL;
        sq->view = 1;
        sq->view_slot = slot;
        sq->scratch_bytes = 0;
    }
}

/* A float32 LayerNorm exported as nine ops (mn_pattern_layernorm) over
 * the last axis, gamma and beta constants of that axis's length: the
 * chain's last Add runs it (mn_opdef_ln_fused, the same bits as the nine
 * ops) and the other eight steps become views that lead its input slot
 * back to x's buffer, so x lives until that step. */
static void fuse_ln(mn_session *s)
{
    const mn_graph *g = s->g;
    for (int k = 0; k < s->n_steps; k++) {
        int chain[9], x, gm, bt, ok = 1;
        float eps;
        int64_t axis[2];
        step *cs[9];
        if (s->steps[k].view ||
            g->nodes[s->steps[k].node].op != MN_OP_REDUCEMEAN ||
            !mn_pattern_layernorm(g, s->steps[k].node, chain, &x, &gm, &bt,
                                  &eps, axis))
            continue;
        const mn_tensor *xt = &s->vt[x], *gt = &s->vt[gm], *bt_ = &s->vt[bt];
        int64_t n = xt->ndim ? xt->dims[xt->ndim - 1] : 0;
        if (xt->dtype != MN_DT_F32 || xt->ndim < 1 ||
            (axis[0] != -1 && axis[0] != xt->ndim - 1) ||
            (axis[1] != -1 && axis[1] != xt->ndim - 1) ||
            s->kind[gm] != MN_VK_CONST || s->kind[bt] != MN_VK_CONST ||
            !gt->data || !bt_->data || gt->dtype != MN_DT_F32 ||
            bt_->dtype != MN_DT_F32 || mn_tensor_numel(gt) != n ||
            mn_tensor_numel(bt_) != n)
            continue;
        /* the chain's values keep x's shape where they are elementwise */
        const mn_node *last = &g->nodes[chain[8]];
        if (mn_tensor_numel(&s->vt[last->out[0]]) != mn_tensor_numel(xt))
            continue;
        for (int c = 0; c < 9 && ok; c++)
            ok = (cs[c] = step_of(s, chain[c])) != NULL && !cs[c]->view;
        if (!ok)
            continue;
        /* each view leads to the value its next node reads from x's side */
        static const int from[8] = {-1, -1, 1, 2, 3, 4, 1, 6};
        for (int c = 0; c < 8; c++) {
            const mn_node *cn = &g->nodes[chain[c]];
            int v = from[c] < 0 ? x : g->nodes[chain[from[c]]].out[0];
            view_of(cs[c], cn, v);
        }
        step *ls = cs[8];
        int mv = g->nodes[chain[7]].out[0];
        ls->def = &mn_opdef_ln_fused;
        ls->scratch_bytes = 0;
        ls->ln_gamma = gm;
        ls->ln_slot = last->in[0] == mv ? 0 : 1;
        ls->ln_eps = eps;
    }
}

/* A squeeze-excite Mul, y = x · f with f [N, C, 1, 1] (x's N and C),
 * whose y only a Conv reads as its input and that Conv can take the
 * factor (mn_conv_takes_scale: the same bits): the Conv multiplies as it
 * packs its input, the Mul becomes a view of x. */
static void fuse_scale(mn_session *s)
{
    const mn_graph *g = s->g;
    for (int k = 0; k < s->n_steps; k++) {
        step *sm = &s->steps[k];
        const mn_node *m = &g->nodes[sm->node];
        if (sm->view || m->op != MN_OP_MUL || sm->def != mn_op_get(MN_OP_MUL) ||
            m->n_in != 2 || m->in[0] < 0 || m->in[1] < 0 ||
            sm->act.kind != MN_FUSED_NONE || sm->residual >= 0)
            continue;
        int y = m->out[0];
        step *sc = sole_reader(s, k + 1, y);
        if (!sc || sc->view || sc->in_scale >= 0 ||
            g->nodes[sc->node].op != MN_OP_CONV ||
            g->nodes[sc->node].in[0] != y)
            continue;
        for (int slot = 0; slot < 2; slot++) {
            int x = m->in[slot], f = m->in[1 - slot];
            const mn_tensor *xt = &s->vt[x], *ft = &s->vt[f],
                            *yt = &s->vt[y];
            if (xt->dtype != MN_DT_F32 || ft->dtype != MN_DT_F32 ||
                xt->ndim != 4 || ft->ndim != 4 ||
                mn_tensor_numel(xt) != mn_tensor_numel(yt) ||
                ft->dims[0] != xt->dims[0] || ft->dims[1] != xt->dims[1] ||
                ft->dims[2] != 1 || ft->dims[3] != 1 ||
                (s->kind[f] != MN_VK_RUNTIME && !ft->data))
                continue;
            const mn_node *c = &g->nodes[sc->node];
            if (!mn_conv_takes_scale(c, s->in_ptrs + sc->in_off, c->n_in,
                                     &sc->prep))
                break;
            view_of(sm, m, x);
            sc->in_scale = f;
            break;
        }
    }
}

void mn_session_fuse(mn_session *s)
{
    if (s->keep_values || s->training)
        return;
    fuse_acts(s);
    fuse_gelu(s);
    fuse_lut(s);
    fuse_ln(s);
    fuse_qadd(s);
    fuse_scale(s);
}
