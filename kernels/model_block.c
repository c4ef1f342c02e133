/* One block of the model, forward and backward side by side: the attention branch (with
 * the records' XSA and output gates), the MLP branch, and the two ways the records join them: the
 * sequential residual (x -> x + A -> + M, DESIGN §4) and the two-lane parallel residual
 * (DESIGN §11). Only calls the backend table. */
#include "kernels/model_internal.h"

typedef struct {
    int B, T, N, D, H, KVH, hd, kvd, F, rot;
} dims;

static dims dims_of(const pg_model *m, const pg_acts *a)
{
    const pg_model_config *c = &m->cfg;
    int hd = pg_config_head_dim(c);
    return (dims){a->B,      a->T,  a->B * a->T,        c->model_dim,
                  c->num_heads, c->num_kv_heads, hd, c->num_kv_heads * hd,
                  c->mlp_mult * c->model_dim, pg_config_rope_dims(c)};
}

/* out = rms_norm(in) * the step's LN scale (rstd kept for the backward) */
static void norm_fwd(const pg_model *m, const pg_acts *a, const pg_step *st, pg_real *out,
                     pg_real *rstd, const pg_real *in, int N, int D)
{
    m->be->rmsnorm_fwd(out, rstd, in, N, D, PG_RMS_EPS);
    pg_bf16_point(a, out, (size_t)N * D);
    if (st->ln_scale != 1.0) {
        m->be->scale(out, (size_t)N * D, st->ln_scale);
        pg_bf16_point(a, out, (size_t)N * D);
    }
}

/* din += the norm's backward of dout (dout is scaled in place by the LN scale first) */
static void norm_bwd(const pg_model *m, const pg_step *st, pg_real *din, pg_real *dout,
                     const pg_real *in, const pg_real *rstd, int N, int D)
{
    if (st->ln_scale != 1.0)
        m->be->scale(dout, (size_t)N * D, st->ln_scale);
    m->be->rmsnorm_bwd(din, dout, in, rstd, N, D);
}

/* ---- attention branch: attn_out = proj(attention(norm(x_mix))) ---- */

static void attn_forward(const pg_model *m, pg_acts *a, const pg_step *st, const pg_layer_acts *s)
{
    const pg_backend *be = m->be;
    const pg_block_views *w = &m->w.blocks[st->l];
    dims d = dims_of(m, a);
    size_t nd = (size_t)d.N * d.D, nkv = (size_t)d.N * d.kvd;
    norm_fwd(m, a, st, s->attn_in, s->attn_rstd, s->x_mix, d.N, d.D);
    be->linear_fwd(s->q_lin, s->attn_in, w->c_q, d.N, d.D, d.D);
    be->linear_fwd(s->k_lin, s->attn_in, w->c_k, d.N, d.D, d.kvd);
    be->linear_fwd(s->v, s->attn_in, w->c_v, d.N, d.D, d.kvd);
    if (m->lora) {
        pg_lora_forward(m, a, st->k, PG_LORA_Q, d.N, s->attn_in, s->q_lin);
        pg_lora_forward(m, a, st->k, PG_LORA_K, d.N, s->attn_in, s->k_lin);
        pg_lora_forward(m, a, st->k, PG_LORA_V, d.N, s->attn_in, s->v);
    }
    pg_bf16_point(a, s->q_lin, nd);
    pg_bf16_point(a, s->k_lin, nkv);
    pg_bf16_point(a, s->v, nkv);
    be->rmsnorm_fwd(s->qn, s->q_rstd, s->q_lin, d.N * d.H, d.hd, PG_RMS_EPS);
    be->rmsnorm_fwd(s->k, s->k_rstd, s->k_lin, d.N * d.KVH, d.hd, PG_RMS_EPS);
    pg_bf16_point(a, s->qn, nd);
    pg_bf16_point(a, s->k, nkv);
    be->rope_fwd(s->qn, a->rope_cos, a->rope_sin, d.B, d.T, d.H, d.hd, d.rot);
    be->rope_fwd(s->k, a->rope_cos, a->rope_sin, d.B, d.T, d.KVH, d.hd, d.rot);
    pg_bf16_point(a, s->qn, nd);
    pg_bf16_point(a, s->k, nkv);
    be->q_gain_fwd(s->q, s->qn, w->q_gain, (size_t)d.N, d.H, d.hd);
    pg_bf16_point(a, s->q, nd);
    be->attention_fwd(s->att_raw, s->att_state, s->q, s->k, s->v, a->span_on ? a->span : NULL,
                      d.B, d.T, d.H, d.KVH, d.hd);
    pg_bf16_point(a, s->att_raw, nd);
    if (st->xsa)
        be->xsa_fwd(s->att_xsa, s->att_raw, s->v, (size_t)d.N, d.H, d.KVH, d.hd);
    else if (s->att_xsa != s->att_raw)
        be->copy(s->att_xsa, s->att_raw, nd * sizeof(pg_real));
    if (st->xsa)
        pg_bf16_point(a, s->att_xsa, nd);
    if (st->gate.suffix) {
        be->head_gate_fwd(s->att, s->att_xsa, s->attn_in, w->attn_gate, (size_t)d.N, d.H, d.hd,
                          d.D, st->gate.win, st->gate.scale, st->gate.mult);
        pg_bf16_point(a, s->att, nd);
    }
    be->linear_fwd(s->attn_out, s->att, w->attn_proj, d.N, d.D, d.D);
    if (m->lora)
        pg_lora_forward(m, a, st->k, PG_LORA_O, d.N, s->attn_in, s->attn_out);
    pg_bf16_point(a, s->attn_out, nd);
}

/* g_attn_out (the gradient of attn_out; used as scratch) in; g_in += the gradient of
 * x_mix. Weight gradients accumulate into gw. */
static void attn_backward(const pg_model *m, pg_acts *a, const pg_step *st,
                          const pg_layer_acts *s, const pg_block_views *gw, pg_real *g_attn_out,
                          pg_real *g_in)
{
    const pg_backend *be = m->be;
    const pg_block_views *w = &m->w.blocks[st->l];
    dims d = dims_of(m, a);
    size_t nd = (size_t)d.N * d.D, nkv = (size_t)d.N * d.kvd;
    pg_real *t_att = a->g_d[2], *t_q = a->g_d[3], *t_qlin = a->g_d[4];
    pg_real *t_k = a->g_kv[0], *t_v = a->g_kv[1], *t_klin = a->g_kv[2];
    if (m->lora) { /* the o adapter's input gradient, kept apart until the end */
        be->zero(a->lora_dx, nd * sizeof(pg_real));
        pg_lora_backward(m, a, st->k, PG_LORA_O, d.N, s->attn_in, g_attn_out, a->lora_dx);
    }
    be->zero(t_att, nd * sizeof(pg_real));
    be->linear_bwd(t_att, gw->attn_proj, g_attn_out, s->att, w->attn_proj, d.N, d.D, d.D);
    be->zero(t_q, nd * sizeof(pg_real));
    be->zero(t_k, nkv * sizeof(pg_real));
    be->zero(t_v, nkv * sizeof(pg_real));
    const pg_real *g_att_xsa = t_att, *g_att_raw;
    if (st->gate.suffix) {
        /* the gate's input gradient, and its share of the normed input's (added below) */
        be->zero(a->g_gate[0], nd * sizeof(pg_real));
        be->zero(a->g_gate[1], nd * sizeof(pg_real));
        be->head_gate_bwd(a->g_gate[0], a->g_gate[1], gw->attn_gate, t_att, s->att_xsa,
                          s->attn_in, w->attn_gate, (size_t)d.N, d.H, d.hd, d.D, st->gate.win,
                          st->gate.scale, st->gate.mult);
        g_att_xsa = a->g_gate[0];
    }
    g_att_raw = g_att_xsa;
    if (st->xsa) {
        /* t_qlin is free until the q norm's backward */
        be->zero(t_qlin, nd * sizeof(pg_real));
        be->xsa_bwd(t_qlin, t_v, g_att_xsa, s->att_raw, s->v, (size_t)d.N, d.H, d.KVH, d.hd);
        g_att_raw = t_qlin;
    }
    be->attention_bwd(t_q, t_k, t_v, g_att_raw, s->att_raw, s->att_state, s->q, s->k, s->v,
                      a->span_on ? a->span : NULL, d.B, d.T, d.H, d.KVH, d.hd, a->scratch);
    be->q_gain_bwd(t_q, gw->q_gain, s->qn, w->q_gain, (size_t)d.N, d.H, d.hd);
    be->rope_bwd(t_q, a->rope_cos, a->rope_sin, d.B, d.T, d.H, d.hd, d.rot);
    be->rope_bwd(t_k, a->rope_cos, a->rope_sin, d.B, d.T, d.KVH, d.hd, d.rot);
    be->zero(t_qlin, nd * sizeof(pg_real));
    be->zero(t_klin, nkv * sizeof(pg_real));
    be->rmsnorm_bwd(t_qlin, t_q, s->q_lin, s->q_rstd, d.N * d.H, d.hd);
    be->rmsnorm_bwd(t_klin, t_k, s->k_lin, s->k_rstd, d.N * d.KVH, d.hd);
    pg_real *t_branch = g_attn_out;
    be->zero(t_branch, nd * sizeof(pg_real));
    be->linear_bwd(t_branch, gw->c_q, t_qlin, s->attn_in, w->c_q, d.N, d.D, d.D);
    be->linear_bwd(t_branch, gw->c_k, t_klin, s->attn_in, w->c_k, d.N, d.D, d.kvd);
    be->linear_bwd(t_branch, gw->c_v, t_v, s->attn_in, w->c_v, d.N, d.D, d.kvd);
    if (m->lora) {
        pg_lora_backward(m, a, st->k, PG_LORA_Q, d.N, s->attn_in, t_qlin, t_branch);
        pg_lora_backward(m, a, st->k, PG_LORA_K, d.N, s->attn_in, t_klin, t_branch);
        pg_lora_backward(m, a, st->k, PG_LORA_V, d.N, s->attn_in, t_v, t_branch);
        be->add(t_branch, a->lora_dx, nd);
    }
    if (st->gate.suffix)
        be->add(t_branch, a->g_gate[1], nd);
    norm_bwd(m, st, g_in, t_branch, s->x_mix, s->attn_rstd, d.N, d.D);
}

/* ---- MLP branch: mlp_out = proj(act(fc(norm(x)))) ---- */

static void mlp_forward(const pg_model *m, pg_acts *a, const pg_step *st, const pg_layer_acts *s,
                        const pg_real *x)
{
    const pg_backend *be = m->be;
    const pg_block_views *w = &m->w.blocks[st->l];
    dims d = dims_of(m, a);
    size_t nf = (size_t)d.N * d.F;
    norm_fwd(m, a, st, s->mlp_in, s->mlp_rstd, x, d.N, d.D);
    be->linear_fwd(s->fc_out, s->mlp_in, w->fc, d.N, d.D, d.F);
    pg_bf16_point(a, s->fc_out, nf);
    be->mlp_act_fwd(s->act, s->fc_out, nf, m->cfg.mlp_act);
    pg_bf16_point(a, s->act, nf);
    be->linear_fwd(s->mlp_out, s->act, w->mlp_proj, d.N, d.F, d.D);
    if (m->lora)
        pg_lora_forward(m, a, st->k, PG_LORA_MLP, d.N, s->mlp_in, s->mlp_out);
    pg_bf16_point(a, s->mlp_out, (size_t)d.N * d.D);
}

/* g_mlp_out (used as scratch) in; g_in += the gradient of x */
static void mlp_backward(const pg_model *m, pg_acts *a, const pg_step *st, const pg_layer_acts *s,
                         const pg_block_views *gw, const pg_real *x, pg_real *g_mlp_out,
                         pg_real *g_in)
{
    const pg_backend *be = m->be;
    const pg_block_views *w = &m->w.blocks[st->l];
    dims d = dims_of(m, a);
    size_t nd = (size_t)d.N * d.D, nf = (size_t)d.N * d.F;
    pg_real *t_f = a->g_f[0], *t_fc = a->g_f[1];
    if (m->lora) {
        be->zero(a->lora_dx, nd * sizeof(pg_real));
        pg_lora_backward(m, a, st->k, PG_LORA_MLP, d.N, s->mlp_in, g_mlp_out, a->lora_dx);
    }
    be->zero(t_f, nf * sizeof(pg_real));
    be->linear_bwd(t_f, gw->mlp_proj, g_mlp_out, s->act, w->mlp_proj, d.N, d.F, d.D);
    be->zero(t_fc, nf * sizeof(pg_real));
    be->mlp_act_bwd(t_fc, t_f, s->fc_out, nf, m->cfg.mlp_act);
    be->zero(g_mlp_out, nd * sizeof(pg_real));
    be->linear_bwd(g_mlp_out, gw->fc, t_fc, s->mlp_in, w->fc, d.N, d.D, d.F);
    if (m->lora)
        be->add(g_mlp_out, a->lora_dx, nd);
    norm_bwd(m, st, g_in, g_mlp_out, x, s->mlp_rstd, d.N, d.D);
}

/* ---- the sequential block ---- */

void pg_block_forward(const pg_model *m, pg_acts *a, const pg_step *st)
{
    const pg_backend *be = m->be;
    const pg_block_views *w = &m->w.blocks[st->l];
    dims d = dims_of(m, a);
    pg_layer_acts s = pg_layer_at(a, st->k);
    size_t nd = (size_t)d.N * d.D;
    be->resid_mix_fwd(s.x_mix, s.x_in, a->x0, w->resid_mix, (size_t)d.N, d.D);
    pg_bf16_point(a, s.x_mix, nd);
    attn_forward(m, a, st, &s);
    be->scaled_add_fwd(s.x_attn, s.x_mix, w->attn_scale, s.attn_out, (size_t)d.N, d.D);
    pg_bf16_point(a, s.x_attn, nd);
    mlp_forward(m, a, st, &s, s.x_attn);
    be->scaled_add_fwd(s.x_out, s.x_attn, w->mlp_scale, s.mlp_out, (size_t)d.N, d.D);
    pg_bf16_point(a, s.x_out, nd);
}

void pg_block_backward(const pg_model *m, pg_acts *a, const pg_step *st, const pg_block_views *gw,
                       const pg_real *g_out, pg_real *g_in)
{
    const pg_backend *be = m->be;
    const pg_block_views *w = &m->w.blocks[st->l];
    dims d = dims_of(m, a);
    size_t nd = (size_t)d.N * d.D;
    pg_layer_acts s = pg_layer_at(a, st->k);
    pg_real *t_branch = a->g_d[0], *t_resid = a->g_d[1];

    /* x_out = x_attn + mlp_scale * mlp_out: the residual passes g_out through */
    be->scaled_add_bwd(t_branch, gw->mlp_scale, g_out, s.mlp_out, w->mlp_scale, (size_t)d.N, d.D);
    be->copy(t_resid, g_out, nd * sizeof(pg_real));
    mlp_backward(m, a, st, &s, gw, s.x_attn, t_branch, t_resid);
    /* x_attn = x_mix + attn_scale * attn_out */
    be->scaled_add_bwd(t_branch, gw->attn_scale, t_resid, s.attn_out, w->attn_scale, (size_t)d.N,
                       d.D);
    attn_backward(m, a, st, &s, gw, t_branch, t_resid);
    /* x_mix = mix[0] * x_in + mix[1] * x0 */
    be->resid_mix_bwd(g_in, a->g_x0, gw->resid_mix, t_resid, s.x_in, a->x0, w->resid_mix,
                      (size_t)d.N, d.D);
}

/* ---- the parallel block (two lanes) ----
 * A = attn_scale (.) attn(norm(mix(lane0, x0))), M = mlp_scale (.) mlp(norm(lane1));
 * lane_j <- resid[l][j] lane_j + post[l][0][j] A + post[l][1][j] M. */

typedef struct {
    pg_real *r, *pa, *pm;
} lane_coefs;

/* post is [L][2][2] (branch, lane), resid [L][2] (lane) */
static lane_coefs coefs_at(pg_real *post, pg_real *resid, int l, int lane)
{
    return (lane_coefs){resid + 2 * (size_t)l + lane, post + 4 * (size_t)l + lane,
                        post + 4 * (size_t)l + 2 + lane};
}

void pg_parallel_block_forward(const pg_model *m, pg_acts *a, const pg_step *st)
{
    const pg_backend *be = m->be;
    const pg_block_views *w = &m->w.blocks[st->l];
    dims d = dims_of(m, a);
    size_t nd = (size_t)d.N * d.D;
    pg_layer_acts s = pg_layer_at(a, st->k);
    be->resid_mix_fwd(s.x_mix, s.x_in, a->x0, w->resid_mix, (size_t)d.N, d.D);
    pg_bf16_point(a, s.x_mix, nd);
    attn_forward(m, a, st, &s);
    be->col_scale_fwd(s.x_attn, w->attn_scale, s.attn_out, (size_t)d.N, d.D);
    pg_bf16_point(a, s.x_attn, nd);
    mlp_forward(m, a, st, &s, s.lane1_in);
    be->col_scale_fwd(s.branch_m, w->mlp_scale, s.mlp_out, (size_t)d.N, d.D);
    pg_bf16_point(a, s.branch_m, nd);
    lane_coefs c0 = coefs_at(m->w.par_post, m->w.par_resid, st->l, 0);
    lane_coefs c1 = coefs_at(m->w.par_post, m->w.par_resid, st->l, 1);
    be->lane_mix_fwd(s.x_out, s.x_in, s.x_attn, s.branch_m, c0.r, c0.pa, c0.pm, nd);
    be->lane_mix_fwd(s.lane1_out, s.lane1_in, s.x_attn, s.branch_m, c1.r, c1.pa, c1.pm, nd);
    pg_bf16_point(a, s.x_out, nd);
    pg_bf16_point(a, s.lane1_out, nd);
}

void pg_parallel_block_backward(const pg_model *m, pg_acts *a, const pg_step *st,
                                const pg_block_views *gw, pg_real *grad, pg_real *g0, pg_real *g1)
{
    const pg_backend *be = m->be;
    const pg_block_views *w = &m->w.blocks[st->l];
    dims d = dims_of(m, a);
    size_t nd = (size_t)d.N * d.D;
    pg_layer_acts s = pg_layer_at(a, st->k);
    pg_real *t_branch = a->g_d[0], *t_resid = a->g_d[1];
    pg_real *g_a = a->g_d[5], *g_m = a->g_d[6], *g_l1 = a->g_d[7];
    pg_real *gpost = pg_model_same(m, grad, m->w.par_post);
    pg_real *gresid = pg_model_same(m, grad, m->w.par_resid);
    lane_coefs c0 = coefs_at(m->w.par_post, m->w.par_resid, st->l, 0);
    lane_coefs c1 = coefs_at(m->w.par_post, m->w.par_resid, st->l, 1);
    lane_coefs gc0 = coefs_at(gpost, gresid, st->l, 0);
    lane_coefs gc1 = coefs_at(gpost, gresid, st->l, 1);

    be->zero(g_a, nd * sizeof(pg_real));
    be->zero(g_m, nd * sizeof(pg_real));
    be->zero(t_resid, nd * sizeof(pg_real));
    be->zero(g_l1, nd * sizeof(pg_real));
    be->lane_mix_bwd(t_resid, g_a, g_m, gc0.r, gc0.pa, gc0.pm,
                     g0, s.x_in, s.x_attn, s.branch_m, c0.r, c0.pa, c0.pm, nd);
    be->lane_mix_bwd(g_l1, g_a, g_m, gc1.r, gc1.pa, gc1.pm, g1,
                     s.lane1_in, s.x_attn, s.branch_m, c1.r, c1.pa, c1.pm, nd);
    /* M = mlp_scale (.) mlp_out; the MLP read lane 1 */
    be->scaled_add_bwd(t_branch, gw->mlp_scale, g_m, s.mlp_out, w->mlp_scale, (size_t)d.N, d.D);
    mlp_backward(m, a, st, &s, gw, s.lane1_in, t_branch, g_l1);
    /* A = attn_scale (.) attn_out; the attention read mix(lane 0, x0) */
    be->scaled_add_bwd(t_branch, gw->attn_scale, g_a, s.attn_out, w->attn_scale, (size_t)d.N, d.D);
    pg_real *g_mix = g_m; /* free again */
    be->zero(g_mix, nd * sizeof(pg_real));
    attn_backward(m, a, st, &s, gw, t_branch, g_mix);
    be->resid_mix_bwd(g0, a->g_x0, gw->resid_mix, g_mix, s.x_in, a->x0, w->resid_mix,
                      (size_t)d.N, d.D);
    be->add(g0, t_resid, nd);
    be->copy(g1, g_l1, nd * sizeof(pg_real));
}
