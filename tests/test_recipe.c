/* The April records' training recipe against tests/golden/records_train.json (made by
 * make_records_train.py from the torch reference records_optim.py): one MuonEq-R /
 * Polar Express step, AdamW with decay, the EMA, the schedule and loop switch, the
 * document-packing loader's rows and attention pieces, then a 12-step training trace
 * (document-packed) whose losses, final weights and exported EMA must agree; and a
 * resumed run that must give the same bits as an uninterrupted one. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/sha256.h"
#include "dataset/loader.h"
#include "kernels/checkpoint.h"
#include "kernels/eval.h"
#include "kernels/hessian.h"
#include "kernels/optim.h"
#include "packager/logparse.h"
#include "packager/torchexport_records.h"
#include "packager/torchimport.h"
#include "train/train.h"
#include "tests/util.h"

static json_t *golden(void)
{
    return t_load_json(t_repo_path("tests/golden/records_train.json"));
}

static pg_real *reals(const json_t *a, size_t *n)
{
    *n = json_array_size(a);
    pg_real *v = malloc((*n ? *n : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < *n; i++)
        v[i] = (pg_real)json_real_value(json_array_get(a, i));
    return v;
}

/* max |got - want| over n, checked against tol */
static double check_close(const char *what, const pg_real *got, const json_t *want, double tol)
{
    size_t n;
    pg_real *w = reals(want, &n);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)got[i] - w[i]));
    free(w);
    ck_assert_msg(worst <= tol, "%s: max |pgolf - torch| %.3e > %.1e", what, worst, tol);
    return worst;
}

START_TEST(test_muon_eq_r_polar_express_step)
{
    json_t *g = golden();
    const pg_backend *be = pg_backend_cpu();
    pg_muon_ns ns = {5, PG_NS_POLAR_EXPRESS, 1};
    json_t *c;
    size_t i, n;
    json_array_foreach(json_object_get(json_object_get(g, "pieces"), "muon"), i, c)
    {
        int rows = (int)json_integer_value(json_object_get(c, "rows"));
        int cols = (int)json_integer_value(json_object_get(c, "cols"));
        double lr = json_real_value(json_object_get(c, "lr"));
        double wd = json_real_value(json_object_get(c, "wd"));
        pg_real *p = reals(json_object_get(c, "p"), &n), *gr = reals(json_object_get(c, "g"), &n);
        pg_real *buf = reals(json_object_get(c, "buf"), &n);
        pg_real *scratch = calloc(be->muon_scratch(rows, cols), sizeof *scratch);
        /* as pg_optim_step runs a matrix: decay with the group lr, then the update */
        be->scale(p, n, 1.0 - lr * wd);
        be->muon_update(p, gr, buf, rows, cols,
                        (pg_real)json_real_value(json_object_get(c, "momentum")),
                        pg_muon_lr(lr, rows, cols), &ns, scratch);
        double dp = check_close("muon p", p, json_object_get(c, "p_out"), 2e-6);
        double db = check_close("muon buf", buf, json_object_get(c, "buf_out"), 1e-6);
        fprintf(stderr, "MuonEq-R/Polar Express [%d][%d] vs torch: p %.1e, buf %.1e\n", rows,
                cols, dp, db);
        free(p), free(gr), free(buf), free(scratch);
    }
    json_decref(g);
}
END_TEST

START_TEST(test_adamw_and_ema)
{
    json_t *g = golden(), *pieces = json_object_get(g, "pieces");
    const pg_backend *be = pg_backend_cpu();
    json_t *a = json_object_get(pieces, "adamw"), *st;
    size_t n, k;
    pg_real *p = reals(json_object_get(a, "p"), &n);
    pg_real *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
    double lr = json_real_value(json_object_get(a, "lr")), wd = json_real_value(json_object_get(a, "wd"));
    pg_adam_config ac = {0.9, 0.95, 1e-8};
    json_array_foreach(json_object_get(a, "steps"), k, st)
    {
        pg_real *gr = reals(json_object_get(st, "g"), &n);
        be->scale(p, n, 1.0 - lr * wd);
        pg_adam_step(be, p, gr, m, v, n, &ac, lr, (long)k + 1);
        check_close("adamw p", p, json_object_get(st, "p_out"), 1e-6);
        free(gr);
    }
    json_t *e = json_object_get(pieces, "ema");
    pg_real *ema = reals(json_object_get(e, "ema"), &n), *w = reals(json_object_get(e, "p"), &n);
    be->ema_update(ema, w, n, json_real_value(json_object_get(e, "decay")));
    /* one fused multiply-add as torch's vectorized add: the same float, or one ulp */
    check_close("ema", ema, json_object_get(e, "ema_out"), 1e-6);
    free(p), free(m), free(v), free(ema), free(w);
    json_decref(g);
}
END_TEST

START_TEST(test_document_packing_loader)
{
    json_t *g = golden(), *l = json_object_get(json_object_get(g, "pieces"), "loader"), *st;
    int bos = (int)json_integer_value(json_object_get(l, "bos"));
    int local = (int)json_integer_value(json_object_get(l, "local"));
    int world = (int)json_integer_value(json_object_get(l, "world"));
    int max_len = (int)json_integer_value(json_object_get(l, "max_len"));
    pg_token_stream s;
    ck_assert_msg(pg_stream_open(&s, t_repo_path("tests/golden/packing_shards"),
                                 (int)json_integer_value(json_object_get(l, "vocab"))) == 0,
                  "%s", pg_errmsg());
    ck_assert_int_eq(pg_stream_pack_documents(&s, bos), 0);
    size_t per = (size_t)(local + 1) * world, k;
    uint16_t *chunk = malloc(per * sizeof *chunk);
    int *ids = malloc((size_t)local * sizeof *ids), *span = malloc((size_t)local * sizeof *span);
    json_array_foreach(json_object_get(l, "steps"), k, st)
    {
        ck_assert_msg(pg_stream_take_packed(&s, per, chunk) == 0, "%s", pg_errmsg());
        ck_assert_uint_eq(s.file_idx, (size_t)json_integer_value(json_object_get(st, "shard")));
        for (int r = 0; r < world; r++) {
            json_t *row = json_array_get(json_object_get(st, "rows"), (size_t)r);
            const uint16_t *sl = chunk + (size_t)r * (local + 1);
            for (int t = 0; t < local; t++) {
                ids[t] = sl[t];
                ck_assert_int_eq(sl[t], json_integer_value(json_array_get(json_object_get(row, "inputs"), (size_t)t)));
                ck_assert_int_eq(sl[t + 1], json_integer_value(json_array_get(json_object_get(row, "targets"), (size_t)t)));
            }
            /* pgolf's spans are the reference's piece bounds, one start per position */
            pg_doc_spans(ids, local, bos, max_len, span);
            json_t *b = json_object_get(row, "bounds");
            for (size_t p = 0; p + 1 < json_array_size(b); p++) {
                int lo = (int)json_integer_value(json_array_get(b, p));
                int hi = (int)json_integer_value(json_array_get(b, p + 1));
                for (int t = lo; t < hi; t++)
                    ck_assert_msg(span[t] == lo, "step %zu rank %d position %d: span %d, piece %d",
                                  k, r, t, span[t], lo);
            }
        }
    }
    /* every shard too short for one micro-step: a clear error, not a loop */
    ck_assert_int_ne(pg_stream_take_packed(&s, 1000, chunk), 0);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "no train shard holds 1000 tokens"));
    pg_stream_close(&s);
    free(chunk), free(ids), free(span);
    json_decref(g);
}
END_TEST

/* The trace's settings on the tiny preset, with the model of its checkpoint. */
static void trace_hparams(const json_t *g, pg_hparams *h)
{
    pg_hparams_tiny(h, t_root());
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(g, "settings"), key, v)
        ck_assert_msg(pg_hparams_set(h, key, json_string_value(v)) == 0, "%s", pg_errmsg());
    json_t *tr = json_object_get(g, "trace");
    ck_assert_msg(pg_config_from_json(json_object_get(tr, "config"), &h->model, "golden") == 0,
                  "%s", pg_errmsg());
    ck_assert_int_eq(pg_hparams_set(h, "VAL_LOSS_EVERY", "0"), 0);
    ck_assert_int_eq(pg_hparams_set(h, "MAX_WALLCLOCK_SECONDS", "0"), 0);
}

/* The golden's model (its settings, then the dense init the reference started from). */
static void golden_model(const json_t *g, pg_hparams *h, pg_model *m)
{
    trace_hparams(g, h);
    ck_assert_int_eq(pg_model_create(m, &h->model), 0);
    pg_model_init(m, (uint64_t)json_integer_value(json_object_get(json_object_get(g, "trace"),
                                                                  "init_seed")),
                  PG_INIT_DENSE);
}

START_TEST(test_schedule_and_loop_switch)
{
    json_t *g = golden(), *row;
    pg_hparams h;
    trace_hparams(g, &h);
    size_t i;
    json_array_foreach(json_object_get(json_object_get(g, "pieces"), "schedule"), i, row)
    {
        long step = (long)json_integer_value(json_object_get(row, "step"));
        ck_assert_double_eq_tol(pg_lr_scale(&h, step, 0),
                                json_real_value(json_object_get(row, "lr_mul")), 1e-15);
        ck_assert_int_eq(pg_loops_on(&h, step, 0), json_is_true(json_object_get(row, "loops")));
    }
    /* with a cap, the fraction is the wall clock's */
    h.max_wallclock_seconds = 100;
    ck_assert_double_eq(pg_lr_scale(&h, 1, 20000), 1.0);
    ck_assert_double_eq_tol(pg_lr_scale(&h, 1, 75000), 0.5, 1e-12);
    ck_assert_double_eq(pg_lr_scale(&h, 1, 99000), 0.1); /* MIN_LR */
    ck_assert_int_eq(pg_loops_on(&h, 1, 34000), 0);
    ck_assert_int_eq(pg_loops_on(&h, 1, 35000), 1);
    json_decref(g);
}
END_TEST

START_TEST(test_hessians_match_torch)
{
    json_t *g = golden(), *hp = json_object_get(json_object_get(g, "pieces"), "hessians");
    pg_hparams h;
    pg_model m;
    golden_model(g, &h, &m);
    int T = h.model.seq_len;
    size_t local = (size_t)h.train_batch_tokens / 8;
    pg_token_stream st;
    ck_assert_int_eq(pg_stream_open(&st, h.data_path, h.model.vocab_size), 0);
    pg_acts a;
    ck_assert_int_eq(pg_acts_create(&a, &m, (int)(local / (size_t)T), T, 1), 0);
    pg_hessians hs;
    ck_assert_int_eq(pg_hessians_create(&hs, &m), 0);
    uint16_t *chunk = malloc((local + 1) * sizeof *chunk);
    int *ids = malloc(local * sizeof *ids);
    for (long b = 0; b < json_integer_value(json_object_get(hp, "batches")); b++) {
        ck_assert_int_eq(pg_stream_take(&st, local + 1, chunk), 0);
        for (size_t i = 0; i < local; i++)
            ids[i] = chunk[i];
        pg_model_forward(&m, &a, ids, NULL);
        pg_hessians_add(&hs, &m, &a);
    }
    const char *path = t_tmp_path("hessians.bin");
    ck_assert_msg(pg_hessians_save(&hs, path) == 0, "%s", pg_errmsg());
    pg_hessians loaded;
    ck_assert_msg(pg_hessians_load(&loaded, path, &m) == 0, "%s", pg_errmsg());
    size_t blob_len, at = 0, k;
    unsigned char *blob = t_read_bytes(t_repo_path("tests/golden/records_train_hessians.f32"),
                                       &blob_len);
    json_t *name;
    double worst = 0;
    json_array_foreach(json_object_get(hp, "names"), k, name)
    {
        int dim = 0;
        const pg_real *H = pg_hessian_of(&loaded, json_string_value(name), &dim);
        ck_assert_ptr_nonnull(H);
        size_t n = (size_t)dim * dim;
        ck_assert_uint_le(at + 4 * n, blob_len);
        double big = 0, diff = 0;
        for (size_t i = 0; i < n; i++) {
            float want;
            memcpy(&want, blob + at + 4 * i, 4);
            big = fmax(big, fabs(want));
            diff = fmax(diff, fabs(H[i] - want));
        }
        at += 4 * n;
        ck_assert_msg(diff <= 1e-5 * big, "%s: Hessian differs by %.2e of its largest",
                      json_string_value(name), diff / big);
        worst = fmax(worst, diff / big);
    }
    ck_assert_uint_eq(at, blob_len);
    ck_assert_ptr_null(pg_hessian_of(&loaded, "skip_weights", &(int){0}));
    fprintf(stderr, "GPTQ Hessians vs torch: %zu tensors within %.1e of their largest\n", k, worst);
    /* a file for another shape is refused, naming it */
    pg_model other;
    pg_model_config oc = h.model;
    oc.mlp_mult = 2;
    ck_assert_int_eq(pg_model_create(&other, &oc), 0);
    pg_hessians bad;
    ck_assert_int_ne(pg_hessians_load(&bad, path, &other), 0);
    ck_assert_msg(strstr(pg_errmsg(), "another model shape"), "%s", pg_errmsg());
    pg_model_free(&other);
    pg_hessians_free(&loaded);
    pg_hessians_free(&hs);
    pg_acts_free(&a);
    pg_stream_close(&st);
    pg_model_free(&m);
    free(chunk), free(ids), free(blob);
    json_decref(g);
}
END_TEST

START_TEST(test_records_export_matches_torch)
{
    json_t *g = golden(), *pieces = json_object_get(g, "pieces");
    json_t *hp = json_object_get(pieces, "hessians"), *ex = json_object_get(pieces, "export");
    pg_hparams h;
    pg_model m;
    golden_model(g, &h, &m);
    /* the reference's Hessians, so both quantize the same problem */
    pg_hessians hs;
    ck_assert_int_eq(pg_hessians_create(&hs, &m), 0);
    size_t len, at = 0, k;
    unsigned char *blob = t_read_bytes(t_repo_path("tests/golden/records_train_hessians.f32"), &len);
    json_t *name;
    json_array_foreach(json_object_get(hp, "names"), k, name)
    {
        int dim = 0;
        pg_real *H = (pg_real *)pg_hessian_of(&hs, json_string_value(name), &dim);
        memcpy(H, blob + at, 4 * (size_t)dim * dim);
        at += 4 * (size_t)dim * dim;
    }
    free(blob);
    pg_records_quant q;
    pg_records_quant_default(&q);
    q.keep_float_max_numel = json_integer_value(
        json_object_get(json_object_get(ex, "settings"), "KEEP_FLOAT_MAX_NUMEL"));
    uint8_t *art = NULL;
    size_t n = 0;
    ck_assert_msg(pg_torch_export_records(&m, &hs, &q, NULL, &art, &n) == 0, "%s", pg_errmsg());
    const char *path = t_tmp_path("final_model.int6.ptz");
    t_write_bytes(path, art, n);
    /* read back by pgolf's importer of the records' files, with the family's settings */
    static const char *const sets[] = {"NUM_LOOPS=1", "LOOP_START=1", "LOOP_END=2",
                                       "XSA_LAST_N=5", "LN_SCALE=1", "ROPE_DIMS=4",
                                       "MLP_ACT=leaky_relu2", "TRAIN_SEQ_LEN=32",
                                       "PARALLEL_START_LAYER=3"};
    pg_import_hints hints = {NULL, sets, (int)(sizeof sets / sizeof sets[0])};
    pg_model back;
    char what[128] = "";
    ck_assert_msg(pg_model_file_load(path, &hints, &back, NULL, what, sizeof what) == 0, "%s",
                  pg_errmsg());
    ck_assert_uint_eq(back.num_params, m.num_params);
    unsigned char *want = t_read_bytes(t_repo_path("tests/golden/records_train_export.f32"), &len);
    ck_assert_uint_eq(len, 4 * m.num_params);
    double worst = 0;
    int lqer = 0;
    for (int i = 0; i < m.num_tensors; i++) {
        const pg_tensor_info *t = &m.tensors[i];
        const char *kind = json_string_value(json_object_get(json_object_get(ex, "kinds"), t->name));
        ck_assert_ptr_nonnull(kind);
        lqer += strstr(kind, "lqer") != NULL;
        for (size_t j = 0; j < t->numel; j++) {
            float w;
            memcpy(&w, want + 4 * (t->offset + j), 4);
            double d = fabs(back.params[t->offset + j] - w);
            worst = fmax(worst, d);
            ck_assert_msg(d <= 1e-6, "%s (%s) [%zu]: pgolf %.9g, torch %.9g", t->name, kind, j,
                          back.params[t->offset + j], w);
        }
    }
    ck_assert_int_eq(lqer, 3);
    fprintf(stderr, "records export (%s, %zu bytes) read back: every weight within %.1e of the "
                    "torch reference's dequantization\n", what, n, worst);
    free(want), free(art);
    pg_model_free(&back);
    pg_hessians_free(&hs);
    pg_model_free(&m);
    json_decref(g);
}
END_TEST

/* Every value the latest record's log dumps for a setting of the preset's tables equals
 * the preset's (training, model, and the export's). */
START_TEST(test_record_preset_matches_its_log)
{
    const char *log = t_shared_path("records-sample/track_10min_16mb/"
                                    "2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611/"
                                    "train_seed0.log");
    if (!log)
        T_SKIP("../shared is absent");
    pg_log_summary *ls = calloc(1, sizeof *ls);
    ck_assert_msg(pg_log_parse(log, ls) == 0, "%s", pg_errmsg());
    pg_hparams h;
    pg_records_quant q;
    ck_assert_int_eq(pg_hparams_record(&h), 0);
    ck_assert_int_eq(pg_records_quant_record(&q), 0);
    pg_settings_bind b[3] = {{&pg_train_settings, &h}, {&pg_model_settings, &h.model},
                             {&pg_records_quant_settings, &q}};
    int compared = 0;
    for (int i = 0; i < ls->nconfig; i++) {
        char name[64], value[96], mine[PG_SETTING_TEXT_MAX], theirs[PG_SETTING_TEXT_MAX];
        pg_log_config_setting(&ls->config[i], name, sizeof name, value, sizeof value);
        void *obj;
        const pg_setting *row = pg_settings_find(b, 3, name, &obj);
        if (!row || row->type == PG_SET_PATH)
            continue; /* not pgolf's, or a path of their machine */
        size_t len = strlen(value); /* "4.0" for an integer setting */
        if ((row->type == PG_SET_INT || row->type == PG_SET_LONG) && len > 2 &&
            strcmp(value + len - 2, ".0") == 0)
            value[len - 2] = '\0';
        pg_settings_format(row, obj, mine, sizeof mine);
        pg_hparams hh = h;
        pg_records_quant qq = q;
        pg_settings_bind bb[3] = {{&pg_train_settings, &hh}, {&pg_model_settings, &hh.model},
                                  {&pg_records_quant_settings, &qq}};
        void *obj2;
        const pg_setting *row2 = pg_settings_find(bb, 3, name, &obj2);
        ck_assert_msg(pg_settings_set(bb, 3, name, value) == 0, "%s", pg_errmsg());
        pg_settings_format(row2, obj2, theirs, sizeof theirs);
        ck_assert_msg(strcmp(mine, theirs) == 0, "%s: the preset has %s, the record's log %s (line %d)",
                      name, mine, theirs, ls->config[i].line);
        compared++;
    }
    ck_assert_int_ge(compared, 50);
    fprintf(stderr, "--preset record: %d settings equal to the record's log\n", compared);
    free(ls);
}
END_TEST

typedef struct {
    double loss[64];
    long n, stop_at;
    volatile sig_atomic_t *stop;
} trace;

static void on_step(void *ctx, long step, double loss)
{
    trace *t = ctx;
    if (step <= 64)
        t->loss[step - 1] = loss;
    t->n = step;
    if (t->stop && step == t->stop_at)
        *t->stop = 1;
}

static const char *fresh(const char *name)
{
    static char cmd[1200], dir[1100];
    snprintf(dir, sizeof dir, "%s", t_tmp_path(name));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    return dir;
}

static pg_real *ckpt_params(const char *dir, const char *file, size_t *n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    pg_model m;
    ck_assert_msg(pg_checkpoint_load(path, &m, NULL) == 0, "%s", pg_errmsg());
    *n = m.num_params;
    pg_real *p = malloc(*n * sizeof *p);
    memcpy(p, m.params, *n * sizeof *p);
    pg_model_free(&m);
    return p;
}

START_TEST(test_trace_matches_torch)
{
    json_t *g = golden(), *tr = json_object_get(g, "trace");
    pg_hparams h;
    pg_model m;
    golden_model(g, &h, &m);
    uint8_t d[PG_SHA256_LEN];
    char hex[PG_SHA256_HEX_LEN];
    pg_sha256(m.params, m.num_params * sizeof(pg_real), d);
    pg_sha256_hex(d, hex);
    ck_assert_str_eq(hex, json_string_value(json_object_get(tr, "params_sha256")));
    size_t n = m.num_params;
    char init_path[1100];
    snprintf(init_path, sizeof init_path, "%s", t_tmp_path("recipe_init.ckpt"));
    ck_assert_int_eq(pg_checkpoint_save(init_path, &m, NULL, NULL, 0), 0);
    pg_model_free(&m);
    ck_assert_int_eq(pg_hparams_set(&h, "INIT_CHECKPOINT", init_path), 0);

    const char *dir = fresh("recipe");
    trace t = {0};
    pg_train_opts o = {.out_dir = dir, .quiet = 1, .on_step = on_step, .ctx = &t};
    ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    json_t *want = json_object_get(tr, "losses");
    ck_assert_int_eq(t.n, (long)json_array_size(want));
    double worst = 0;
    for (long i = 0; i < t.n; i++) {
        double w = json_real_value(json_array_get(want, (size_t)i));
        worst = fmax(worst, fabs(t.loss[i] - w) / fabs(w));
        ck_assert_msg(worst <= 5e-6, "step %ld: pgolf %.8f torch %.8f", i + 1, t.loss[i], w);
    }
    /* the golden's blob: the final weights, then their EMA */
    size_t bytes, nlive, nema;
    unsigned char *blob = t_read_bytes(t_repo_path("tests/golden/records_train.f32"), &bytes);
    ck_assert_uint_eq(bytes, 2 * n * sizeof(float));
    pg_real *live = ckpt_params(dir, "state.ckpt", &nlive), *ema = ckpt_params(dir, "final.ckpt", &nema);
    double dl = 0, de = 0, span = 0;
    for (size_t i = 0; i < n; i++) {
        float wl, we;
        memcpy(&wl, blob + 4 * i, 4);
        memcpy(&we, blob + 4 * (n + i), 4);
        dl = fmax(dl, fabs(live[i] - wl));
        de = fmax(de, fabs(ema[i] - we));
        span = fmax(span, fabs(we - live[i]));
    }
    ck_assert_msg(dl <= 1e-4 && de <= 1e-4, "weights %.2e, EMA %.2e from torch", dl, de);
    ck_assert_msg(span > 1e-3, "the exported EMA equals the live weights (%.2e)", span);
    char *log = t_read_text(t_tmp_path("recipe/train.log"));
    char line[96];
    snprintf(line, sizeof line, "layer_loop:enabled step:%lld ",
             (long long)json_integer_value(json_object_get(tr, "loops_enabled_at")));
    ck_assert_msg(strstr(log, line), "no '%s' in train.log", line);
    ck_assert_ptr_nonnull(strstr(log, "ema:applying EMA weights"));
    fprintf(stderr, "records recipe vs torch: %ld steps, loss rel %.1e (%.4f -> %.4f), weights "
                    "%.1e, EMA %.1e (EMA-live %.1e)\n",
            t.n, worst, t.loss[0], t.loss[t.n - 1], dl, de, span);
    free(blob), free(live), free(ema), free(log);
    json_decref(g);
}
END_TEST

START_TEST(test_resume_gives_the_same_bits)
{
    json_t *g = golden();
    pg_hparams h;
    trace_hparams(g, &h);
    json_decref(g);
    const char *straight = fresh("recipe_straight");
    pg_train_opts o = {.out_dir = straight, .quiet = 1};
    ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    size_t n, n2;
    pg_real *want = ckpt_params(straight, "final.ckpt", &n);
    /* interrupted after step 3 (loops still off), then resumed */
    volatile sig_atomic_t stop = 0;
    trace t = {.stop_at = 3, .stop = &stop};
    const char *dir = fresh("recipe_resumed");
    pg_train_opts o2 = {.out_dir = dir, .quiet = 1, .on_step = on_step, .ctx = &t, .stop = &stop};
    ck_assert_int_ne(pg_train(&h, &o2), 0);
    ck_assert_int_eq(t.n, 3);
    stop = 0;
    t.stop = NULL;
    o2.resume = 1;
    ck_assert_msg(pg_train(&h, &o2) == 0, "%s", pg_errmsg());
    pg_real *got = ckpt_params(dir, "final.ckpt", &n2);
    ck_assert_uint_eq(n, n2);
    ck_assert_msg(memcmp(want, got, n * sizeof *got) == 0, "the resumed run's EMA differs");
    free(want), free(got);
}
END_TEST

/* The value after "KEY" in text, or NAN. */
static double value_after(const char *text, const char *key)
{
    const char *p = text ? strstr(text, key) : NULL;
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

/* A tiny --preset record run from the command line: train with the recipe (document
 * packing, the loop switched on, the EMA, GPTQ calibration), the records' export, then the
 * exported artifact scored in the documents mode and with the records' phased TTT. */
START_TEST(test_tiny_record_run_end_to_end)
{
    const char *dir = fresh("record_run");
    const char *tiny = "--set VOCAB_SIZE=1024 --set NUM_LAYERS=5 --set MODEL_DIM=32 "
                       "--set NUM_HEADS=2 --set NUM_KV_HEADS=1 --set TRAIN_SEQ_LEN=64 "
                       "--set ROPE_DIMS=8 --set NUM_LOOPS=1 --set LOOP_START=1 --set LOOP_END=2 "
                       "--set PARALLEL_START_LAYER=3 --set XSA_LAST_N=5 --set GATE_WINDOW=8";
    t_run_result r = t_pgolf(
        "train --preset record %s --set DATA_PATH='%s' --set TOKENIZER_PATH='%s' "
        "--set TRAIN_BATCH_TOKENS=1024 --set ITERATIONS=30 --set MAX_WALLCLOCK_SECONDS=0 "
        "--set MUON_MOMENTUM_WARMUP_STEPS=10 --set GPTQ_CALIBRATION_BATCHES=2 "
        "--set TRAIN_LOG_EVERY=10 --out '%s'",
        tiny, t_repo_path("data/sample"), t_repo_path("data/sample/sample_1024_bpe.model"), dir);
    ck_assert_msg(r.status == 0, "%s", r.err);
    char *log = t_read_text(t_tmp_path("record_run/train.log"));
    ck_assert_ptr_nonnull(strstr(log, "layer_loop:enabled step:11 "));
    ck_assert_ptr_nonnull(strstr(log, "train_loader:document_packing"));
    ck_assert_ptr_nonnull(strstr(log, "ema:applying EMA weights"));
    ck_assert_ptr_nonnull(strstr(log, "GPTQ:collected 31 Hessians"));
    free(log);
    r = t_pgolf("export '%s/final.ckpt' --format records --preset record --hessians "
                "'%s/hessians.bin' --set KEEP_FLOAT_MAX_NUMEL=2048 --out '%s/final_model.int6.ptz'",
                dir, dir, dir);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "gptq (int7)") && strstr(r.out, "tok_emb.weight") &&
                      strstr(r.out, "gptq (int6)") && strstr(r.out, "+lqer_asym: "),
                  "%s", r.out);
    const char *data = t_repo_path("data/sample");
    const char *tok = t_repo_path("data/sample/sample_1024_bpe.model");
    const char *family = "--set NUM_LOOPS=1 --set LOOP_START=1 --set LOOP_END=2 "
                         "--set XSA_LAST_N=5 --set LN_SCALE=1 --set ROPE_DIMS=8 "
                         "--set MLP_ACT=leaky_relu2 --set TRAIN_SEQ_LEN=64 "
                         "--set PARALLEL_START_LAYER=3 --set GATE_WINDOW=8 "
                         "--set SPARSE_ATTN_GATE_SCALE=0.5";
    r = t_pgolf("eval '%s/final.ckpt' --data '%s' --tokenizer '%s' --mode documents", dir, data,
                tok);
    ck_assert_msg(r.status == 0, "%s", r.err);
    double fp32 = value_after(r.out, "final_documents_exact val_loss:");
    r = t_pgolf("eval '%s/final_model.int6.ptz' %s --data '%s' --tokenizer '%s' --mode documents",
                dir, family, data, tok);
    ck_assert_msg(r.status == 0, "%s", r.err);
    double quant = value_after(r.out, "final_documents_exact val_loss:");
    ck_assert_msg(isfinite(fp32) && isfinite(quant) && fabs(quant - fp32) < 0.05 &&
                      quant != fp32,
                  "documents val_loss: float32 %.6f, exported %.6f", fp32, quant);
    r = t_pgolf("eval '%s/final_model.int6.ptz' %s --data '%s' --tokenizer '%s' --ttt "
                "--ttt-set TTT_OPTIMIZER=phased --ttt-set TTT_CHUNK_SIZE=32 "
                "--ttt-set TTT_EVAL_SEQ_LEN=64 --ttt-set PHASED_TTT_PREFIX_DOCS=4",
                dir, family, data, tok);
    ck_assert_msg(r.status == 0, "%s", r.err);
    double ttt = value_after(r.out, "ttt_phased_exact val_loss:");
    ck_assert_msg(isfinite(ttt), "%s", r.out);
    fprintf(stderr, "tiny --preset record run: documents val_loss float32 %.5f, records export "
                    "%.5f, phased TTT on the export %.5f\n", fp32, quant, ttt);
}
END_TEST

Suite *suite_recipe(void)
{
    Suite *s = suite_create("recipe");
    TCase *tc = tcase_create("recipe");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_muon_eq_r_polar_express_step);
    tcase_add_test(tc, test_adamw_and_ema);
    tcase_add_test(tc, test_schedule_and_loop_switch);
    tcase_add_test(tc, test_document_packing_loader);
    tcase_add_test(tc, test_hessians_match_torch);
    tcase_add_test(tc, test_records_export_matches_torch);
    tcase_add_test(tc, test_record_preset_matches_its_log);
    tcase_add_test(tc, test_tiny_record_run_end_to_end);
    tcase_add_test(tc, test_trace_matches_torch);
    tcase_add_test(tc, test_resume_gives_the_same_bits);
    suite_add_tcase(s, tc);
    return s;
}
