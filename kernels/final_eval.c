#include "kernels/final_eval.h"

#include <stddef.h>
#include <string.h>

#include "common/err.h"
#include "common/progress.h"

#define ROW(n, t, f, d, hi, h)                                                                  \
    {.name = n, .type = t, .offset = offsetof(pg_final_opts, f), .def = d, .min = 0, .max = hi, \
     .readers = PG_READ_RUN, .help = h}
static const pg_setting kRows[] = {
    ROW("RUN_SLIDING_STRIDE", PG_SET_LONG, sliding_stride, "0", 1 << 20,
        "sliding-window eval stride (0: none, as the reference; records use 64; at most "
        "TRAIN_SEQ_LEN)"),
    ROW("RUN_TTT", PG_SET_INT, ttt, "0", 1, "1: legal score-first TTT eval (TTT_*)"),
    ROW("RUN_TTT_STRIDE", PG_SET_LONG, ttt_stride, "0", 1 << 20,
        "windows TTT scores: 0 standard, else sliding with this stride"),
};
#undef ROW

const pg_settings_table pg_final_settings = {
    "the evaluations a submission is scored by (pgolf run, train_gpt.py)", kRows,
    sizeof kRows / sizeof kRows[0], 0};

int pg_final_opts_bind(const pg_final_opts *o, pg_settings_bind b[PG_FINAL_TABLES])
{
    pg_final_opts *m = (pg_final_opts *)o;
    b[0] = (pg_settings_bind){&pg_final_settings, m};
    b[1] = (pg_settings_bind){&pg_ttt_settings, &m->ttt_opts};
    return PG_FINAL_TABLES;
}

void pg_final_opts_default(pg_final_opts *o)
{
    memset(o, 0, sizeof *o);
    pg_settings_bind b[PG_FINAL_TABLES];
    pg_settings_defaults(b, pg_final_opts_bind(o, b));
}

int pg_final_opts_check(const pg_final_opts *o, int seq_len)
{
    if (o->sliding_stride > seq_len || o->ttt_stride > seq_len)
        return pg_fail("RUN_SLIDING_STRIDE=%ld and RUN_TTT_STRIDE=%ld must be <= TRAIN_SEQ_LEN=%d",
                       o->sliding_stride, o->ttt_stride, seq_len);
    return 0;
}

int pg_final_evals(const pg_model *m, const uint16_t *val, size_t nval, const pg_bpb_lut *lut,
                   const pg_final_opts *o, int progress, pg_final_scores *s)
{
    memset(s, 0, sizeof *s);
    if (pg_final_opts_check(o, m->cfg.seq_len) != 0)
        return -1;
    pg_eval_opts eo = {.mode = PG_EVAL_STANDARD, .seq_len = m->cfg.seq_len, .batch = 8,
                       .progress = progress};
    double t0 = pg_now_seconds();
    if (pg_eval_run(m, val, nval, lut, &eo, &s->standard, NULL) != 0)
        return -1;
    s->standard_s = pg_now_seconds() - t0;
    if (o->sliding_stride > 0) {
        eo.mode = PG_EVAL_SLIDING;
        eo.stride = (int)o->sliding_stride;
        t0 = pg_now_seconds();
        if (pg_eval_run(m, val, nval, lut, &eo, &s->sliding, NULL) != 0)
            return -1;
        s->sliding_s = pg_now_seconds() - t0;
        s->sliding_stride = o->sliding_stride;
        s->has_sliding = 1;
    }
    if (o->ttt) {
        eo.mode = o->ttt_stride > 0 ? PG_EVAL_SLIDING : PG_EVAL_STANDARD;
        eo.stride = (int)o->ttt_stride;
        pg_ttt_opts to = o->ttt_opts;
        to.progress = progress;
        pg_model copy;
        t0 = pg_now_seconds();
        if (pg_model_clone(&copy, m) != 0)
            return -1;
        int rc = pg_ttt_run(&copy, val, nval, lut, &eo, &to, &s->ttt, NULL);
        pg_model_free(&copy);
        if (rc != 0)
            return -1;
        s->ttt_s = pg_now_seconds() - t0;
        s->ttt_stride = o->ttt_stride;
        s->has_ttt = 1;
    }
    return 0;
}

const pg_eval_result *pg_final_claim(const pg_final_scores *s, const char **mode)
{
    *mode = s->has_ttt ? "ttt" : s->has_sliding ? "sliding" : "standard";
    return s->has_ttt ? &s->ttt : s->has_sliding ? &s->sliding : &s->standard;
}

void pg_final_settings_lines(pg_text *t, const pg_final_opts *o, const char *prefix)
{
    pg_settings_bind b[PG_FINAL_TABLES];
    int n = pg_final_opts_bind(o, b);
    for (int k = 0; k < n; k++) {
        if (k > 0 && !o->ttt)
            break; /* TTT_* say nothing without TTT */
        for (size_t i = 0; i < b[k].table->n; i++) {
            const pg_setting *row = &b[k].table->rows[i];
            if (!pg_settings_applies(b, n, row))
                continue;
            char v[PG_SETTING_TEXT_MAX];
            pg_settings_format(row, b[k].obj, v, sizeof v);
            pg_text_printf(t, "%s%s=%s\n", prefix, row->name, v);
        }
    }
}

/* "<tag> val_loss:.4f val_bpb:.4f<extra> eval_time:Nms" and "<tag>_exact ..." */
static void score_pair(pg_text *t, const char *tag, const char *extra, const pg_eval_result *r,
                       double seconds)
{
    pg_text_printf(t, "%s val_loss:%.4f val_bpb:%.4f%s eval_time:%.0fms\n", tag, r->val_loss,
                   r->val_bpb, extra, seconds * 1000.0);
    pg_text_printf(t, "%s_exact val_loss:%.8f val_bpb:%.8f\n", tag, r->val_loss, r->val_bpb);
}

void pg_final_score_lines(pg_text *t, const char *scheme, const pg_final_scores *s)
{
    char tag[96], extra[48];
    snprintf(tag, sizeof tag, "final_%.64s_roundtrip", scheme);
    score_pair(t, tag, "", &s->standard, s->standard_s);
    if (s->has_sliding) {
        snprintf(tag, sizeof tag, "final_%.64s_sliding_window", scheme);
        snprintf(extra, sizeof extra, " stride:%ld", s->sliding_stride);
        score_pair(t, tag, extra, &s->sliding, s->sliding_s);
    }
    if (s->has_ttt) {
        snprintf(extra, sizeof extra, " stride:%ld", s->ttt_stride);
        score_pair(t, "legal_ttt", extra, &s->ttt, s->ttt_s);
    }
}
