/* The model's forward and backward over the virtual layer list (pg_config_layer_list):
 * the embedding (with the records' SmearGate), the encoder steps whose outputs feed the U-Net skips (plain or gated),
 * the decoder steps (sequential, or the two-lane parallel residual from
 * PARALLEL_START_LAYER), the final norm and the tied head. Only calls the backend table. */
#include <math.h>

#include "kernels/model_internal.h"

pg_layer_acts pg_layer_at(pg_acts *a, int k)
{
    return (pg_layer_acts){
        PG_LAYER(a, x_in, stride_d, k),      PG_LAYER(a, x_mix, stride_d, k),
        PG_LAYER(a, attn_in, stride_d, k),   PG_LAYER(a, attn_rstd, stride_n, k),
        PG_LAYER(a, q_lin, stride_d, k),     PG_LAYER(a, k_lin, stride_kv, k),
        PG_LAYER(a, v, stride_kv, k),        PG_LAYER(a, qn, stride_d, k),
        PG_LAYER(a, q, stride_d, k),         PG_LAYER(a, k, stride_kv, k),
        PG_LAYER(a, q_rstd, stride_nh, k),   PG_LAYER(a, k_rstd, stride_nkv, k),
        PG_LAYER(a, att_state, stride_p, k), PG_LAYER(a, att_raw, stride_d, k),
        PG_LAYER(a, att_xsa, stride_d, k),   PG_LAYER(a, att, stride_d, k),
        PG_LAYER(a, attn_out, stride_d, k),
        PG_LAYER(a, x_attn, stride_d, k),    PG_LAYER(a, mlp_in, stride_d, k),
        PG_LAYER(a, mlp_rstd, stride_n, k),  PG_LAYER(a, fc_out, stride_f, k),
        PG_LAYER(a, act, stride_f, k),       PG_LAYER(a, mlp_out, stride_d, k),
        PG_LAYER(a, x_out, stride_d, k),
        a->lane1_in ? PG_LAYER(a, lane1_in, stride_d, k) : NULL,
        a->lane1_out ? PG_LAYER(a, lane1_out, stride_d, k) : NULL,
        a->branch_m ? PG_LAYER(a, branch_m, stride_d, k) : NULL};
}

pg_step pg_model_step(const pg_model *m, int k, int l)
{
    const pg_model_config *c = &m->cfg;
    /* the factor as the records compute it: a float32 1/sqrt(l+1) */
    double s = c->ln_scale ? (double)(float)(1.0 / sqrt((double)l + 1.0)) : 1.0;
    pg_step st = {k, l, s, l >= c->num_layers - c->xsa_last_n, {0}};
    pg_config_head_gate(c, &st.gate);
    return st;
}

/* The configuration the pass's layer list comes from: without the recurrence while
 * loops_off (its list, encoder half and skips are the physical layers'; the skip
 * weights past those go unused, as in the records). */
static pg_model_config layer_view(const pg_model *m)
{
    pg_model_config c = m->cfg;
    if (m->loops_off)
        c.num_loops = 0;
    return c;
}

int pg_model_layer_list(const pg_model *m, int *list)
{
    pg_model_config c = layer_view(m);
    return pg_config_layer_list(&c, list, PG_MAX_VIRTUAL_LAYERS);
}

/* Whether decoder step k (physical l) runs in the parallel lanes. */
static int in_lanes(const pg_model_config *c, int k, int l)
{
    return c->parallel_start > 0 && k >= pg_config_encoder_steps(c) && l >= c->parallel_start;
}

/* Copies the pass's token ids and targets (host arrays) into the activations. */
static void load_tokens(pg_acts *a, const int *ids, const int *targets)
{
    size_t bytes = (size_t)a->B * a->T * sizeof(int);
    a->be->to_device(a->ids, ids, bytes);
    if (targets)
        a->be->to_device(a->targets, targets, bytes);
}

/* The token SmearGate does not smear onto, or -1 (SMEAR_GATE_BOS_MASK=0). */
static int smear_bos(const pg_model_config *c)
{
    return c->smear_bos_mask ? c->bos_id : -1;
}

/* What the lanes end as (PARALLEL_FINAL_LANE): their mean, or one of them. */
static const pg_real *lanes_final(const pg_model *m, pg_acts *a, const pg_real *l0,
                                  const pg_real *l1, size_t nd)
{
    switch (m->cfg.parallel_final) {
    case PG_LANE_ATTN: return l0;
    case PG_LANE_MLP: return l1;
    default:
        m->be->copy(a->lanes_out, l0, nd * sizeof(pg_real));
        m->be->add(a->lanes_out, l1, nd);
        m->be->scale(a->lanes_out, nd, 0.5);
        pg_bf16_point(a, a->lanes_out, nd);
        return a->lanes_out;
    }
}

double pg_model_forward(const pg_model *m, pg_acts *a, const int *ids, const int *targets)
{
    const pg_backend *be = m->be;
    const pg_model_config view = layer_view(m), *c = &view;
    int N = a->B * a->T, D = c->model_dim;
    int list[PG_MAX_VIRTUAL_LAYERS], V = pg_config_layer_list(c, list, PG_MAX_VIRTUAL_LAYERS);
    int enc = pg_config_encoder_steps(c), nskip = pg_config_num_skips(c);
    size_t nd = (size_t)N * D;

    load_tokens(a, ids, targets);
    if (m->w.smear_w) {
        /* SmearGate on the raw embedding, before the first norm; x_final holds the raw
         * rows until the final norm writes it */
        pg_real *emb = a->x_final;
        be->embedding_fwd(emb, m->w.tok_emb, a->ids, N, D);
        be->smear_fwd(a->x0, emb, a->ids, m->w.smear_w, m->w.smear_lambda, a->B, a->T, D,
                      c->gate_window, smear_bos(c));
        pg_bf16_point(a, a->x0, nd);
    } else {
        be->embedding_fwd(a->x0, m->w.tok_emb, a->ids, N, D);
    }
    be->rmsnorm_fwd(a->x0, a->x0_rstd, a->x0, N, D, PG_RMS_EPS);
    pg_bf16_point(a, a->x0, nd);

    const pg_real *prev = a->x0, *lane1 = NULL;
    for (int k = 0; k < V; k++) {
        pg_step st = pg_model_step(m, k, list[k]);
        pg_layer_acts s = pg_layer_at(a, k);
        int par = in_lanes(c, k, st.l);
        if (par && !lane1)
            lane1 = prev; /* both lanes start as the residual stream */
        int i = k - enc; /* decoder index */
        if (i >= 0 && i < nskip) {
            /* U-Net skip on the stream (lane 0): the encoder output popped, scaled by
             * skip_weights[i], added or (gated) mixed in */
            const pg_real *skip = a->skips + (size_t)(enc - 1 - i) * nd;
            const pg_real *sw = m->w.skip_weights + (size_t)i * D;
            if (m->w.skip_gates)
                be->skip_gate_fwd(s.x_in, prev, skip, sw, m->w.skip_gates + (size_t)i * D,
                                  (size_t)N, D);
            else
                be->scaled_add_fwd(s.x_in, prev, sw, skip, (size_t)N, D);
            pg_bf16_point(a, s.x_in, nd);
        } else {
            be->copy(s.x_in, prev, nd * sizeof(pg_real));
        }
        if (par) {
            be->copy(s.lane1_in, lane1, nd * sizeof(pg_real));
            pg_parallel_block_forward(m, a, &st);
            lane1 = s.lane1_out;
        } else {
            pg_block_forward(m, a, &st);
        }
        prev = s.x_out;
        if (k < enc && k < nskip)
            be->copy(a->skips + (size_t)k * nd, prev, nd * sizeof(pg_real));
    }
    a->final_in = lane1 ? lanes_final(m, a, prev, lane1, nd) : prev;

    size_t nv = (size_t)N * c->vocab_size;
    be->rmsnorm_fwd(a->x_final, a->final_rstd, a->final_in, N, D, PG_RMS_EPS);
    pg_bf16_point(a, a->x_final, nd);
    be->linear_fwd(a->logits, a->x_final, m->w.tok_emb, N, D, c->vocab_size);
    if (m->lora)
        pg_lora_forward(m, a, -1, PG_LORA_TARGETS, N, a->x_final, a->logits);
    pg_bf16_point(a, a->logits, nv);
    be->softcap_fwd(a->logits, nv, c->logit_softcap);
    pg_bf16_point(a, a->logits, nv);
    return targets ? be->xent_fwd(a->losses, a->logits, a->targets, N, c->vocab_size) : 0;
}

void pg_model_backward(const pg_model *m, pg_acts *a, const int *ids, const int *targets,
                       pg_real *grad, double dloss)
{
    const pg_backend *be = m->be;
    const pg_model_config view = layer_view(m), *c = &view;
    int N = a->B * a->T, D = c->model_dim, V = c->vocab_size;
    int list[PG_MAX_VIRTUAL_LAYERS], S = pg_config_layer_list(c, list, PG_MAX_VIRTUAL_LAYERS);
    int enc = pg_config_encoder_steps(c), nskip = pg_config_num_skips(c);
    size_t nd = (size_t)N * D;
    pg_real *g_tok_emb = grad + m->tensors[0].offset;
    pg_real *g_skip_w = pg_model_same(m, grad, m->w.skip_weights);
    pg_real *g_skip_g = m->w.skip_gates ? pg_model_same(m, grad, m->w.skip_gates) : NULL;

    load_tokens(a, ids, targets);
    /* head: logits = softcap(x_final @ tok_emb^T) */
    be->softcap_xent_bwd(a->g_logits, a->logits, a->targets, N, V, c->logit_softcap, dloss);
    for (int b = 0; a->loss_from > 0 && b < a->B; b++) /* positions that count no loss */
        be->zero(a->g_logits + (size_t)b * a->T * V,
                 (size_t)(a->loss_from < a->T ? a->loss_from : a->T) * V * sizeof(pg_real));
    pg_real *g_final = a->g_d[0];
    be->zero(g_final, nd * sizeof(pg_real));
    be->linear_bwd(g_final, g_tok_emb, a->g_logits, a->x_final, m->w.tok_emb, N, D, V);
    if (m->lora)
        pg_lora_backward(m, a, -1, PG_LORA_TARGETS, N, a->x_final, a->g_logits, g_final);
    be->zero(a->g_x, nd * sizeof(pg_real));
    be->rmsnorm_bwd(a->g_x, g_final, a->final_in, a->final_rstd, N, D);

    /* the lanes' gradients from what they ended as */
    int first_par = -1;
    for (int k = 0; k < S; k++)
        if (in_lanes(c, k, list[k]) && first_par < 0)
            first_par = k;
    if (first_par >= 0) {
        int final = c->parallel_final;
        be->copy(a->g_lane1, a->g_x, nd * sizeof(pg_real));
        if (final == PG_LANE_MEAN) {
            be->scale(a->g_x, nd, 0.5);
            be->scale(a->g_lane1, nd, 0.5);
        } else {
            be->zero(final == PG_LANE_ATTN ? a->g_lane1 : a->g_x, nd * sizeof(pg_real));
        }
    }

    be->zero(a->g_x0, nd * sizeof(pg_real));
    be->zero(a->g_skips, (size_t)nskip * nd * sizeof(pg_real));
    for (int k = S - 1; k >= 0; k--) {
        /* g_x holds the gradient of this step's output (lane 0's in the lanes) */
        pg_step st = pg_model_step(m, k, list[k]);
        if (k < enc && k < nskip)
            be->add(a->g_x, a->g_skips + (size_t)k * nd, nd);
        pg_block_views gw = pg_model_block_views(m, grad, st.l);
        if (in_lanes(c, k, st.l))
            pg_parallel_block_backward(m, a, &st, &gw, grad, a->g_x, a->g_lane1);
        else
            pg_block_backward(m, a, &st, &gw, a->g_x, a->g_x);
        int i = k - enc;
        if (i >= 0 && i < nskip) {
            size_t at = (size_t)(enc - 1 - i) * nd;
            const pg_real *prev = k > 0 ? pg_layer_at(a, k - 1).x_out : a->x0;
            if (g_skip_g)
                be->skip_gate_bwd(a->g_x, a->g_skips + at, g_skip_w + (size_t)i * D,
                                  g_skip_g + (size_t)i * D, a->g_x, prev, a->skips + at,
                                  m->w.skip_weights + (size_t)i * D,
                                  m->w.skip_gates + (size_t)i * D, (size_t)N, D);
            else
                /* x_in = prev + skip_weights[i] * skip[enc-1-i] */
                be->skip_add_bwd(a->g_skips + at, g_skip_w + (size_t)i * D, a->g_x,
                                 a->skips + at, m->w.skip_weights + (size_t)i * D, (size_t)N, D);
        }
        if (k == first_par)
            be->add(a->g_x, a->g_lane1, nd); /* both lanes began as the stream */
    }
    /* step 0's input is x0 */
    be->add(a->g_x0, a->g_x, nd);
    /* x0 = rms_norm(tok_emb[ids]), or of the smeared rows; the norm's input again */
    pg_real *emb = a->g_d[1], *g_emb = a->g_d[2];
    be->embedding_fwd(emb, m->w.tok_emb, a->ids, N, D);
    if (m->w.smear_w) {
        pg_real *smeared = a->g_d[3], *g_sm = a->g_d[4];
        be->smear_fwd(smeared, emb, a->ids, m->w.smear_w, m->w.smear_lambda, a->B, a->T, D,
                      c->gate_window, smear_bos(c));
        be->zero(g_sm, nd * sizeof(pg_real));
        be->rmsnorm_bwd(g_sm, a->g_x0, smeared, a->x0_rstd, N, D);
        be->zero(g_emb, nd * sizeof(pg_real));
        be->smear_bwd(g_emb, pg_model_same(m, grad, m->w.smear_w),
                      pg_model_same(m, grad, m->w.smear_lambda), g_sm, emb, a->ids,
                      m->w.smear_w, m->w.smear_lambda, a->B, a->T, D, c->gate_window,
                      smear_bos(c));
    } else {
        be->zero(g_emb, nd * sizeof(pg_real));
        be->rmsnorm_bwd(g_emb, a->g_x0, emb, a->x0_rstd, N, D);
    }
    be->embedding_bwd(g_tok_emb, g_emb, a->ids, N, D);
}
