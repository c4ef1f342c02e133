/* Legal score-first TTT: parity with the PyTorch reference, improvement on the sample,
 * and the causality audit passing every legal mode and catching illegal ones. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/sha256.h"
#include "kernels/checkpoint.h"
#include "dataset/shard.h"
#include "train/train.h"
#include "verifier/audit.h"
#include "kernels/ttt.h"
#include "tests/util.h"

typedef struct {
    pg_model m;
    pg_bpb_lut lut;
    uint16_t *val;
    size_t nval;
} fixture;

static void load_fixture(fixture *f, int layers, int dim, int seq, uint64_t seed, float emb_std,
                         size_t tokens)
{
    pg_model_config c = pg_config_tiny();
    c.num_layers = layers;
    c.model_dim = dim;
    c.seq_len = seq;
    c.tied_embed_init_std = emb_std;
    ck_assert_int_eq(pg_model_create(&f->m, &c), 0);
    pg_model_init(&f->m, seed, PG_INIT_DENSE);
    pg_tokenizer tok;
    ck_assert_int_eq(pg_tokenizer_load(t_repo_path("data/sample/sample_1024_bpe.model"), &tok), 0);
    ck_assert_int_eq(pg_bpb_lut_build(&tok, 1024, &f->lut), 0);
    pg_tokenizer_free(&tok);
    ck_assert_int_eq(pg_shards_load(t_repo_path("data/sample"), "val", 1024, &f->val, &f->nval), 0);
    if (tokens && tokens < f->nval)
        f->nval = tokens;
}

static void free_fixture(fixture *f)
{
    pg_model_free(&f->m);
    pg_bpb_lut_free(&f->lut);
    free(f->val);
}

START_TEST(test_parity_with_pytorch)
{
    json_t *g = t_load_json(t_repo_path("tests/golden/ttt_trace.json"));
    json_t *s = json_object_get(g, "settings");
#define S(k) json_number_value(json_object_get(s, k))
    fixture f;
    load_fixture(&f, 3, 32, (int)S("SEQ_LEN"), (uint64_t)json_integer_value(json_object_get(g, "init_seed")),
                 0.3f, (size_t)S("TOKENS"));
    uint8_t d[PG_SHA256_LEN];
    char hex[PG_SHA256_HEX_LEN];
    pg_sha256(f.m.params, f.m.num_params * sizeof(pg_real), d);
    pg_sha256_hex(d, hex);
    ck_assert_str_eq(hex, json_string_value(json_object_get(g, "params_sha256")));
    pg_eval_opts eo = {.mode = PG_EVAL_SLIDING, .seq_len = (int)S("SEQ_LEN"),
                       .stride = (int)S("STRIDE"), .batch = 3};
    pg_ttt_opts o;
    pg_ttt_opts_default(&o);
    o.chunk_tokens = (int)S("CHUNK");
    o.epochs = (int)S("EPOCHS");
    o.lr = S("LR");
    o.momentum = S("MOMENTUM");
    o.batch_seqs = (int)S("BATCH");
    o.grad_clip = S("CLIP");
    o.freeze_blocks = (int)S("FREEZE");
#undef S
    size_t total = pg_eval_total_targets(f.nval, eo.seq_len);
    double *pre = calloc(total, sizeof *pre), *post = calloc(total, sizeof *post);
    pg_eval_result r;
    ck_assert_int_eq(pg_eval_run(&f.m, f.val, f.nval, &f.lut, &eo, &r, pre), 0);
    pg_model copy;
    ck_assert_int_eq(pg_model_clone(&copy, &f.m), 0);
    ck_assert_msg(pg_ttt_run(&copy, f.val, f.nval, &f.lut, &eo, &o, &r, post) == 0, "%s",
                  pg_errmsg());
    pg_model_free(&copy);
    json_t *want_pre = json_object_get(g, "pre_chunk_loss"), *want_post = json_object_get(g, "post_chunk_loss");
    size_t nchunks = json_array_size(want_pre);
    double worst = 0;
    for (size_t ci = 0; ci < nchunks; ci++) {
        double a = 0, b = 0;
        for (size_t i = ci * (size_t)o.chunk_tokens; i < total && i < (ci + 1) * (size_t)o.chunk_tokens; i++) {
            a += pre[i];
            b += post[i];
        }
        double wa = json_real_value(json_array_get(want_pre, ci));
        double wb = json_real_value(json_array_get(want_post, ci));
        worst = fmax(worst, fmax(fabs(a - wa) / wa, fabs(b - wb) / wb));
        ck_assert_msg(fabs(a - wa) <= 1e-5 * wa, "chunk %zu pre: %.9g vs torch %.9g", ci, a, wa);
        ck_assert_msg(fabs(b - wb) <= 1e-4 * wb, "chunk %zu post: %.9g vs torch %.9g", ci, b, wb);
    }
    fprintf(stderr, "ttt parity vs torch: %zu chunks, max rel diff of chunk losses %.2e\n",
            nchunks, worst);
    free(pre);
    free(post);
    free_fixture(&f);
    json_decref(g);
}
END_TEST

/* ---- causality audit ---- */

typedef struct {
    fixture *f;
    pg_eval_opts eo;
    pg_ttt_opts to;
    int kind; /* 0 plain eval, 1 legal TTT, 2 train-then-score, 3 pre-adapted on all */
} scorer;

static int run_scorer(void *ctx, const uint16_t *stream, size_t n, double *per_token)
{
    scorer *s = ctx;
    pg_eval_result r = {0};
    if (s->kind == 0)
        return pg_eval_run(&s->f->m, stream, n, &s->f->lut, &s->eo, &r, per_token);
    pg_model m;
    ck_assert_int_eq(pg_model_clone(&m, &s->f->m), 0);
    int rc = 0;
    if (s->kind == 1) {
        rc = pg_ttt_run(&m, stream, n, &s->f->lut, &s->eo, &s->to, &r, per_token);
    } else {
        /* illegal variants, assembled from the public building blocks */
        size_t total = pg_eval_total_targets(n, s->eo.seq_len), chunk = (size_t)s->to.chunk_tokens;
        pg_eval_window *w;
        size_t nw;
        ck_assert_int_eq(pg_eval_windows(&s->eo, total, &w, &nw), 0);
        pg_ttt_state *st = pg_ttt_begin(&m, &s->to);
        if (s->kind == 3) /* a model that has seen the whole stream, later tokens included */
            rc = pg_ttt_train_span(st, stream, n, 0, total, s->eo.seq_len, s->to.lr);
        size_t w0 = 0;
        int nchunks = (int)((total + chunk - 1) / chunk);
        for (int ci = 0; ci < nchunks && rc == 0; ci++) {
            size_t w1 = w0;
            while (w1 < nw && (w[w1].start + (size_t)w[w1].score_from) / chunk == (size_t)ci)
                w1++;
            size_t cs = (size_t)ci * chunk, ce = cs + chunk < total ? cs + chunk : total;
            if (s->kind == 2) /* train on the chunk, then score it */
                rc = pg_ttt_train_span(st, stream, n, cs, ce, s->eo.seq_len, s->to.lr);
            if (rc == 0)
                rc = pg_score_windows(&m, stream, &s->f->lut, w + w0, w1 - w0, 2, &r, per_token);
            w0 = w1;
        }
        pg_ttt_end(st);
        free(w);
    }
    pg_model_free(&m);
    return rc;
}

static void audit(fixture *f, scorer *s, size_t at, int expect_pass)
{
    size_t total = pg_eval_total_targets(f->nval, s->eo.seq_len);
    pg_audit_result r;
    ck_assert_msg(pg_audit_causality(run_scorer, s, f->val, f->nval, total, 1024, at, &r) == 0, "%s",
                  pg_errmsg());
    ck_assert(r.changed_after); /* the altered tokens were seen */
    if (expect_pass)
        ck_assert_msg(r.first_diff < 0, "kind %d at %zu: target %ld changed", s->kind, at,
                      r.first_diff);
    else
        ck_assert_msg(r.first_diff >= 0 && (size_t)r.first_diff < at,
                      "kind %d at %zu: the illegal variant was not caught", s->kind, at);
}

START_TEST(test_audit_legal_modes)
{
    fixture f;
    load_fixture(&f, 3, 32, 32, 4, 0.3f, 32 * 24 + 1);
    scorer s = {&f, {.mode = PG_EVAL_STANDARD, .seq_len = 32, .batch = 2}, {0}, 0};
    pg_ttt_opts_default(&s.to);
    s.to.chunk_tokens = 128;
    s.to.epochs = 1;
    s.to.batch_seqs = 2;
    s.to.lr = 0.05;
    s.to.freeze_blocks = 1;
    audit(&f, &s, 300, 1);
    s.eo.mode = PG_EVAL_SLIDING;
    s.eo.stride = 8;
    audit(&f, &s, 300, 1);
    s.kind = 1; /* TTT over sliding windows, cut inside a chunk and on a boundary */
    audit(&f, &s, 300, 1);
    audit(&f, &s, 384, 1);
    s.to.optimizer = PG_TTT_MUON; /* and the variants */
    s.to.cosine_epochs = 1;
    s.to.mlp_out_mult = 3;
    s.to.in_proj_mult = 0.5;
    s.to.freeze_blocks = 0;
    audit(&f, &s, 250, 1);
    s.eo.mode = PG_EVAL_STANDARD;
    audit(&f, &s, 250, 1);
    free_fixture(&f);
}
END_TEST

START_TEST(test_audit_catches_illegal)
{
    fixture f;
    load_fixture(&f, 2, 32, 32, 4, 0.3f, 32 * 24 + 1);
    scorer s = {&f, {.mode = PG_EVAL_SLIDING, .seq_len = 32, .stride = 8, .batch = 2}, {0}, 2};
    pg_ttt_opts_default(&s.to);
    s.to.chunk_tokens = 128;
    s.to.epochs = 1;
    s.to.batch_seqs = 2;
    s.to.lr = 0.05;
    s.to.freeze_blocks = 0;
    audit(&f, &s, 300, 0); /* trains on a chunk before scoring it */
    s.kind = 3;
    audit(&f, &s, 300, 0); /* scores with a model that has seen later tokens */
    free_fixture(&f);
}
END_TEST

/* TTT helps a briefly trained tiny model on the sample. */
START_TEST(test_ttt_improves)
{
    pg_hparams h;
    pg_hparams_tiny(&h, t_root());
    const char *sets[][2] = {{"NUM_LAYERS", "2"},        {"MODEL_DIM", "32"},
                             {"TRAIN_SEQ_LEN", "32"},    {"TRAIN_BATCH_TOKENS", "1024"},
                             {"ITERATIONS", "60"},       {"WARMDOWN_ITERS", "10"},
                             {"VAL_LOSS_EVERY", "0"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_int_eq(pg_hparams_set(&h, sets[i][0], sets[i][1]), 0);
    char dir[1100];
    snprintf(dir, sizeof dir, "rm -rf '%s'", t_tmp_path("ttt_train"));
    ck_assert_int_eq(system(dir), 0);
    snprintf(dir, sizeof dir, "%s", t_tmp_path("ttt_train"));
    pg_train_opts to = {.out_dir = dir, .quiet = 1};
    ck_assert_msg(pg_train(&h, &to) == 0, "%s", pg_errmsg());
    t_run_result r = t_pgolf("eval '%s/final.ckpt' --data '%s' --tokenizer '%s' --ttt --ttt-set "
                             "TTT_CHUNK_TOKENS=2048 --ttt-set TTT_LR=0.03 --ttt-set "
                             "TTT_FREEZE_BLOCKS=0 --json --quiet",
                             dir, t_repo_path("data/sample"),
                             t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    double pre = json_real_value(json_object_get(json_object_get(j, "pre_ttt"), "val_bpb"));
    double post = json_real_value(json_object_get(j, "val_bpb"));
    fprintf(stderr, "ttt on the sample: val_bpb %.5f without TTT, %.5f with\n", pre, post);
    ck_assert_msg(post < pre - 1e-3, "TTT did not help: %.5f -> %.5f", pre, post);
    json_decref(j);
    r = t_pgolf("eval '%s/final.ckpt' --data '%s' --tokenizer '%s' --ttt --ttt-set TTT_LR=-1",
                dir, t_repo_path("data/sample"), t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "TTT_LR=-1 is out of range"));
}
END_TEST

/* LoRA TTT: causal, and reset at every document: the first piece of each document is
 * scored exactly as without adapters (B = 0 after a reset). */
START_TEST(test_lora_ttt)
{
    fixture f;
    load_fixture(&f, 2, 32, 32, 6, 0.3f, 0);
    pg_eval_opts eo = {.mode = PG_EVAL_SLIDING, .seq_len = 32, .stride = 16, .batch = 2};
    pg_ttt_opts o;
    pg_ttt_opts_default(&o);
    o.optimizer = PG_TTT_LORA;
    o.epochs = 1;
    o.lora_rank = 4;
    o.lora_lr = 0.01;
    o.lora_chunk = 64;
    size_t n = 3000 < f.nval ? 3000 : f.nval;
    size_t total = pg_eval_total_targets(n, 32);
    double *base = calloc(total, sizeof *base), *lora = calloc(total, sizeof *lora);
    pg_eval_result r;
    ck_assert_int_eq(pg_eval_run(&f.m, f.val, n, &f.lut, &eo, &r, base), 0);
    pg_model m;
    ck_assert_int_eq(pg_model_clone(&m, &f.m), 0);
    ck_assert_msg(pg_ttt_run(&m, f.val, n, &f.lut, &eo, &o, &r, lora) == 0, "%s", pg_errmsg());
    ck_assert(m.lora == NULL);
    ck_assert_mem_eq(m.params, f.m.params, m.num_params * sizeof(pg_real)); /* base untouched */
    pg_model_free(&m);
    size_t docs = 0, differ = 0;
    for (size_t i = 0; i < total; i++) {
        if (f.val[i] == PG_BOS_ID) {
            docs++;
            for (size_t j = i; j < i + 32 && j < total; j++) /* inside the first piece */
                ck_assert_msg(base[j] == lora[j], "target %zu after a BOS at %zu differs", j, i);
        }
        differ += base[i] != lora[i];
    }
    ck_assert_uint_gt(docs, 0);
    ck_assert_uint_gt(differ, total / 4); /* the adapters did change later predictions */
    scorer s = {&f, eo, o, 1};
    f.nval = n;
    audit(&f, &s, 1500, 1);
    free(base);
    free(lora);
    free_fixture(&f);
}
END_TEST

/* `pgolf eval --ttt --json` reports each optimizer by name with exactly the settings it
 * reads (the registry's rows whose `when` holds), with the values given. */
START_TEST(test_ttt_report_names_optimizer)
{
    const char *ckpt = t_tmp_path("ttt_report.ckpt");
    t_run_result r = t_pgolf("init --preset tiny --set NUM_LAYERS=1 --set MODEL_DIM=16 --set "
                             "NUM_HEADS=2 --set NUM_KV_HEADS=1 --set TRAIN_SEQ_LEN=32 --seed 3 "
                             "--out '%s'",
                             ckpt);
    ck_assert_msg(r.status == 0, "%s", r.err);
    const pg_setting *opt = &pg_ttt_settings.rows[0];
    ck_assert_str_eq(opt->name, "TTT_OPTIMIZER");
    ck_assert_str_eq(opt->choices, "sgd|muon|lora|phased"); /* a new one joins the list below */
    static const char *const optimizers[] = {"sgd", "muon", "lora", "phased"};
    for (int i = 0; i < 4; i++) {
        r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --mode standard --ttt --ttt-set "
                    "TTT_OPTIMIZER=%s --ttt-set TTT_EPOCHS=1 --ttt-set TTT_CHUNK_TOKENS=8192 "
                    "--ttt-set TTT_FREEZE_BLOCKS=0 --ttt-set TTT_LORA_RANK=2 --json --quiet",
                    ckpt, t_repo_path("data/sample"),
                    t_repo_path("data/sample/sample_1024_bpe.model"), optimizers[i]);
        ck_assert_msg(r.status == 0, "%s: %s", optimizers[i], r.err);
        json_t *j = json_loads(r.out, 0, NULL);
        json_t *rep = json_object_get(j, "ttt");
        ck_assert_msg(json_is_object(rep), "%s: no ttt report", optimizers[i]);
        ck_assert_str_eq(json_string_value(json_object_get(rep, "TTT_OPTIMIZER")), optimizers[i]);
        pg_ttt_opts o;
        pg_ttt_opts_default(&o);
        ck_assert_int_eq(pg_ttt_set(&o, "TTT_OPTIMIZER", optimizers[i]), 0);
        pg_settings_bind b = {&pg_ttt_settings, &o};
        size_t reads = 0;
        for (size_t k = 0; k < pg_ttt_settings.n; k++) {
            const pg_setting *s = &pg_ttt_settings.rows[k];
            int applies = pg_settings_applies(&b, 1, s);
            reads += (size_t)applies;
            ck_assert_msg((json_object_get(rep, s->name) != NULL) == applies, "%s: %s %s",
                          optimizers[i], s->name, applies ? "missing" : "reported");
        }
        ck_assert_uint_eq(json_object_size(rep), reads);
        ck_assert_int_eq(json_integer_value(json_object_get(rep, "TTT_EPOCHS")), 1);
        ck_assert(!json_object_get(rep, "TTT_CHUNK_SIZE") == (i != 3)); /* phased only */
        if (i >= 2) {
            ck_assert_int_eq(json_integer_value(json_object_get(rep, "TTT_LORA_RANK")), 2);
            ck_assert(json_is_real(json_object_get(rep, "TTT_LORA_LR")));
            ck_assert_ptr_null(json_object_get(rep, "TTT_MOMENTUM"));
        } else {
            ck_assert_int_eq(json_integer_value(json_object_get(rep, "TTT_CHUNK_TOKENS")), 8192);
            ck_assert(json_is_real(json_object_get(rep, "TTT_MOMENTUM")));
            ck_assert_ptr_null(json_object_get(rep, "TTT_LORA_RANK"));
        }
        json_decref(j);
    }
}
END_TEST

Suite *suite_ttt(void)
{
    Suite *s = suite_create("ttt");
    TCase *tc = tcase_create("ttt");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_parity_with_pytorch);
    tcase_add_test(tc, test_audit_legal_modes);
    tcase_add_test(tc, test_audit_catches_illegal);
    tcase_add_test(tc, test_ttt_improves);
    tcase_add_test(tc, test_lora_ttt);
    tcase_add_test(tc, test_ttt_report_names_optimizer);
    suite_add_tcase(s, tc);
    return s;
}
