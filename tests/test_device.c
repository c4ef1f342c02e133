/* The model on a device backend: everything above the backend table (the graph, eval,
 * legal TTT in all its variants, the causality audit, training with resume, checkpoints,
 * quantization, selftest's model rows) runs on a device whose memory the host cannot
 * touch: the emulated device of tests/emu_backend.c, which must give the CPU's bits (the
 * host/device boundary the CUDA backend relies on), or, with PGOLF_TEST_DEVICE=cuda
 * (`make check CUDA_EMU=1`), the CUDA backend itself on the CPU execution engine of
 * tests/cudaemu/, whose results must match the CPU's within DEVICE_TOL and its own bit for
 * bit from one run to the next. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/sha256.h"
#include "dataset/shard.h"
#include "kernels/checkpoint.h"
#include "kernels/selftest.h"
#include "kernels/ttt.h"
#include "packager/artifact.h"
#include "pipeline/manifest.h"
#include "pipeline/run.h"
#include "train/train.h"
#include "verifier/audit.h"
#include "tests/emu_backend.h"
#include "tests/util.h"

/* How far the CUDA backend (float32 parity mode: PGOLF_CUDA_LINEAR=fp32) may be from the
 * CPU, relative to the largest magnitude compared: its sums run in other orders. */
#define DEVICE_TOL 1e-4

static const pg_backend *device(void)
{
    static const pg_backend *be;
    const char *want = getenv("PGOLF_TEST_DEVICE");
    char note[300];
    if (!be && want && strcmp(want, "cuda") == 0)
        ck_assert_msg(pg_backend_select("cuda", &be, note, sizeof note) == 0, "%s", pg_errmsg());
    else if (!be)
        be = t_emu_backend();
    return be;
}

/* 1 when the device must give the CPU's bits (the emulated device) */
static int exact(void)
{
    return device() == t_emu_backend();
}

/* The sample's data folder, or on the CUDA backend (where the engine runs every GPU
 * thread as a fiber) a folder of its own with the sample's training shard and the first
 * 2048 validation tokens, so the suite stays within CI's time. */
static const char *data_dir(void)
{
    static char dir[1100];
    if (exact())
        return t_repo_path("data/sample");
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s", t_tmp_path("dev_engine_data"));
        ck_assert(mkdir(dir, 0755) == 0 || errno == EEXIST);
        char train[1200], val[1200];
        snprintf(train, sizeof train, "%s/fineweb_train_000000.bin", dir);
        snprintf(val, sizeof val, "%s/fineweb_val_000000.bin", dir);
        unlink(train);
        ck_assert_int_eq(symlink(t_repo_path("data/sample/fineweb_train_000000.bin"), train), 0);
        size_t len;
        unsigned char *v = t_read_bytes(t_repo_path("data/sample/fineweb_val_000000.bin"), &len);
        int32_t count = 2048; /* header word 2: the token count (dataset/shard.h) */
        ck_assert(v && len >= 1024 + 2 * (size_t)count);
        memcpy(v + 8, &count, sizeof count);
        t_write_bytes(val, v, 1024 + 2 * (size_t)count);
        free(v);
    }
    return dir;
}

/* a and b (n doubles) are the same bits, or on the CUDA backend within DEVICE_TOL */
static void assert_close_doubles(const double *a, const double *b, size_t n, const char *what)
{
    if (exact()) {
        ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "%s differs between the CPU and the device",
                      what);
        return;
    }
    double diff = 0, mag = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= diff)) /* a NaN on either side is a difference no tolerance covers */
            diff = isnan(d) ? INFINITY : d;
        mag = fmax(mag, fabs(a[i]));
    }
    ck_assert_msg(diff <= DEVICE_TOL * mag, "%s: the device is %.3g from the CPU (scale %.3g)",
                  what, diff, mag);
}

static pg_model_config small_config(void)
{
    pg_model_config c = pg_config_tiny();
    c.num_layers = 3;
    c.model_dim = 32;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.seq_len = 32;
    return c;
}

/* The same dense-initialized model on the CPU (a) and the emulated device (b). */
static void model_pair(pg_model *a, pg_model *b)
{
    pg_model_config c = small_config();
    ck_assert_int_eq(pg_model_create(a, &c), 0);
    ck_assert_int_eq(pg_model_init(a, 11, PG_INIT_DENSE), 0);
    ck_assert_int_eq(pg_model_clone(b, a), 0);
    ck_assert_msg(pg_model_to_backend(b, device()) == 0, "%s", pg_errmsg());
    ck_assert_ptr_eq(b->be, device());
}

/* n reals of backend memory, on the host (malloc'ed) */
static pg_real *fetch(const pg_backend *be, const void *p, size_t bytes)
{
    pg_real *h = malloc(bytes);
    ck_assert_ptr_nonnull(h);
    be->to_host(h, p, bytes);
    return h;
}

static void assert_same(const pg_backend *be_a, const void *a, const pg_backend *be_b,
                        const void *b, size_t bytes, const char *what)
{
    void *ha = fetch(be_a, a, bytes), *hb = fetch(be_b, b, bytes);
    ck_assert_msg(memcmp(ha, hb, bytes) == 0, "%s differs between the CPU and the device", what);
    free(ha);
    free(hb);
}

/* n values of backend memory on each side (reals, or doubles when `doubles`), compared as
 * assert_close_doubles does */
static void assert_close(const pg_backend *be_a, const void *a, const pg_backend *be_b,
                         const void *b, size_t n, int doubles, const char *what)
{
    size_t bytes = n * (doubles ? sizeof(double) : sizeof(pg_real));
    void *ha = fetch(be_a, a, bytes), *hb = fetch(be_b, b, bytes);
    double *da = doubles ? ha : malloc(n * sizeof *da), *db = doubles ? hb : malloc(n * sizeof *db);
    ck_assert(da && db);
    for (size_t i = 0; !doubles && i < n; i++)
        da[i] = ((pg_real *)ha)[i], db[i] = ((pg_real *)hb)[i];
    assert_close_doubles(da, db, n, what);
    if (!doubles) {
        free(da);
        free(db);
    }
    free(ha);
    free(hb);
}

START_TEST(test_graph_on_device)
{
    pg_model a, b;
    model_pair(&a, &b);
    /* init on the device draws the same parameters as on the CPU */
    pg_model c;
    ck_assert_int_eq(pg_model_create_on(&c, &a.cfg, device()), 0);
    ck_assert_int_eq(pg_model_init(&c, 11, PG_INIT_DENSE), 0);
    assert_same(a.be, a.params, c.be, c.params, a.num_params * sizeof(pg_real), "init");
    pg_model_free(&c);

    int B = 2, T = 32, N = B * T;
    int ids[64], tgt[64];
    for (int i = 0; i < N; i++) {
        ids[i] = (i * 37 + 5) % a.cfg.vocab_size;
        tgt[i] = (i * 11 + 3) % a.cfg.vocab_size;
    }
    pg_acts xa, xb;
    ck_assert_int_eq(pg_acts_create(&xa, &a, B, T, 1), 0);
    ck_assert_int_eq(pg_acts_create(&xb, &b, B, T, 1), 0);
    double la = pg_model_forward(&a, &xa, ids, tgt), lb = pg_model_forward(&b, &xb, ids, tgt);
    assert_close_doubles(&la, &lb, 1, "loss");
    assert_close(a.be, xa.logits, b.be, xb.logits, (size_t)N * a.cfg.vocab_size, 0, "logits");
    assert_close(a.be, xa.losses, b.be, xb.losses, (size_t)N, 1, "losses");
    size_t gb = a.num_params * sizeof(pg_real);
    pg_real *ga = a.be->alloc(gb), *gd = b.be->alloc(gb);
    pg_model_backward(&a, &xa, ids, tgt, ga, 1.0 / N);
    pg_model_backward(&b, &xb, ids, tgt, gd, 1.0 / N);
    assert_close(a.be, ga, b.be, gd, a.num_params, 0, "gradient");
    /* read_params / write_params are the way across */
    pg_real *host = fetch(a.be, a.params, gb);
    host[0] += 1.0f;
    pg_model_write_params(&b, host);
    pg_real *back = malloc(gb);
    pg_model_read_params(&b, back);
    ck_assert_int_eq(memcmp(host, back, gb), 0);
    free(host);
    free(back);
    a.be->free(ga);
    b.be->free(gd);
    pg_acts_free(&xa);
    pg_acts_free(&xb);
    pg_model_free(&a);
    pg_model_free(&b);
}
END_TEST

/* The records' family on the device: every option at once (partial RoPE, LN scale, XSA,
 * a loop, lanes, gated skips, the sparse gate, SmearGate), documents packed in the
 * sequences; forward, backward, and the bf16 mode's forward (bits on the emulated
 * device; on the CUDA backend a float32 difference can flip a bfloat16 rounding, so there
 * the bf16 losses are held to 1e-2). */
START_TEST(test_records_graph_on_device)
{
    pg_model_config c = small_config();
    c.num_layers = 4;
    c.mlp_act = PG_MLP_LEAKY_RELU2;
    c.rope_dims = 4;
    c.ln_scale = 1;
    c.xsa_last_n = 4;
    c.num_loops = 1;
    c.loop_start = 1;
    c.loop_end = 2;
    c.parallel_start = 2;
    c.skip_gates = 1;
    c.sparse_gate = 1;
    c.sparse_gate_scale = 0.5f;
    c.gate_window = 8;
    c.smear_gate = 1;
    pg_model a, b;
    ck_assert_int_eq(pg_model_create(&a, &c), 0);
    ck_assert_int_eq(pg_model_init(&a, 12, PG_INIT_DENSE), 0);
    ck_assert_int_eq(pg_model_clone(&b, &a), 0);
    ck_assert_msg(pg_model_to_backend(&b, device()) == 0, "%s", pg_errmsg());
    int B = 2, T = 32, N = B * T;
    int ids[64], tgt[64], span[64];
    for (int i = 0; i < N; i++) {
        ids[i] = i % 13 == 4 ? c.bos_id : (i * 37 + 5) % c.vocab_size;
        tgt[i] = (i * 11 + 3) % c.vocab_size;
    }
    for (int s = 0; s < B; s++)
        pg_doc_spans(ids + s * T, T, c.bos_id, 20, span + s * T);
    pg_acts xa, xb;
    ck_assert_int_eq(pg_acts_create(&xa, &a, B, T, 1), 0);
    ck_assert_int_eq(pg_acts_create(&xb, &b, B, T, 1), 0);
    pg_acts_set_spans(&xa, span);
    pg_acts_set_spans(&xb, span);
    double la = pg_model_forward(&a, &xa, ids, tgt), lb = pg_model_forward(&b, &xb, ids, tgt);
    assert_close_doubles(&la, &lb, 1, "records' loss");
    assert_close(a.be, xa.logits, b.be, xb.logits, (size_t)N * c.vocab_size, 0, "records' logits");
    size_t gb = a.num_params * sizeof(pg_real);
    pg_real *ga = a.be->alloc(gb), *gd = b.be->alloc(gb);
    pg_model_backward(&a, &xa, ids, tgt, ga, 1.0 / N);
    pg_model_backward(&b, &xb, ids, tgt, gd, 1.0 / N);
    assert_close(a.be, ga, b.be, gd, a.num_params, 0, "records' gradient");
    a.be->free(ga);
    b.be->free(gd);
    pg_model_round_bf16(&a);
    pg_model_round_bf16(&b);
    pg_acts_set_bf16(&xa, 1);
    pg_acts_set_bf16(&xb, 1);
    la = pg_model_forward(&a, &xa, ids, tgt);
    lb = pg_model_forward(&b, &xb, ids, tgt);
    if (exact())
        ck_assert_msg(memcmp(&la, &lb, sizeof la) == 0, "bf16 loss differs on the device");
    else
        ck_assert_msg(fabs(la - lb) <= 1e-2 * fabs(la), "bf16 loss %.9g vs the CPU's %.9g", lb, la);
    pg_acts_free(&xa);
    pg_acts_free(&xb);
    pg_model_free(&a);
    pg_model_free(&b);
}
END_TEST

typedef struct {
    pg_bpb_lut lut;
    uint16_t *val;
    size_t nval;
} val_data;

static void load_val(val_data *v, size_t tokens)
{
    pg_tokenizer tok;
    ck_assert_int_eq(pg_tokenizer_load(t_repo_path("data/sample/sample_1024_bpe.model"), &tok), 0);
    ck_assert_int_eq(pg_bpb_lut_build(&tok, 1024, &v->lut), 0);
    pg_tokenizer_free(&tok);
    ck_assert_int_eq(pg_shards_load(data_dir(), "val", 1024, &v->val, &v->nval), 0);
    if (tokens < v->nval)
        v->nval = tokens;
}

/* One evaluation (TTT when o is set) on a copy of m; per-token losses into per_token. */
static pg_eval_result score(const pg_model *m, const val_data *v, const pg_eval_opts *eo,
                            const pg_ttt_opts *o, double *per_token)
{
    pg_eval_result r;
    pg_model copy;
    ck_assert_int_eq(pg_model_clone(&copy, m), 0);
    ck_assert_ptr_eq(copy.be, m->be);
    int rc = o ? pg_ttt_run(&copy, v->val, v->nval, &v->lut, eo, o, &r, per_token)
               : pg_eval_run(&copy, v->val, v->nval, &v->lut, eo, &r, per_token);
    ck_assert_msg(rc == 0, "%s", pg_errmsg());
    pg_model_free(&copy);
    return r;
}

START_TEST(test_eval_and_ttt_on_device)
{
    pg_model a, b;
    model_pair(&a, &b);
    val_data v;
    load_val(&v, 6000);
    size_t total = pg_eval_total_targets(v.nval, 32);
    double *pa = calloc(total, sizeof *pa), *pb = calloc(total, sizeof *pb);
    pg_eval_opts std = {.mode = PG_EVAL_STANDARD, .seq_len = 32, .batch = 4};
    pg_eval_opts sl = {.mode = PG_EVAL_SLIDING, .seq_len = 32, .stride = 16, .batch = 4};
    pg_ttt_opts sgd, muon, lora;
    pg_ttt_opts_default(&sgd);
    sgd.chunk_tokens = exact() ? 2048 : 512; /* several chunks of the engine's 2048 tokens */
    sgd.epochs = 1;
    sgd.batch_seqs = 4;
    sgd.freeze_blocks = 1;
    muon = sgd;
    muon.optimizer = PG_TTT_MUON;
    lora = sgd;
    lora.optimizer = PG_TTT_LORA;
    lora.lora_chunk = exact() ? 256 : 128;
    pg_ttt_opts phased; /* the records' TTT: every adapter, AdamW, one global phase */
    pg_ttt_opts_default(&phased);
    phased.optimizer = PG_TTT_PHASED;
    phased.lora_rank = 4;
    phased.lora_lr = 0.0001;
    phased.lora_alpha = 8;
    phased.chunk_size = 64;
    phased.eval_seq_len = 96;
    phased.batch_size = 1;
    phased.ranks = 2;
    phased.prefix_docs = 1;
    phased.global_chunk_tokens = 256;
    phased.global_batch_seqs = 2;
    struct {
        const char *name;
        const pg_eval_opts *eo;
        const pg_ttt_opts *o;
    } cases[] = {{"standard", &std, NULL}, {"sliding", &sl, NULL}, {"ttt sgd", &sl, &sgd},
                 {"ttt muon", &sl, &muon}, {"ttt lora", &sl, &lora}, {"ttt phased", &std, &phased}};
    double plain = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pg_eval_result ra = score(&a, &v, cases[i].eo, cases[i].o, pa);
        pg_eval_result rb = score(&b, &v, cases[i].eo, cases[i].o, pb);
        char what[64];
        snprintf(what, sizeof what, "%s val_loss", cases[i].name);
        assert_close_doubles(&ra.val_loss, &rb.val_loss, 1, what);
        snprintf(what, sizeof what, "%s val_bpb", cases[i].name);
        assert_close_doubles(&ra.val_bpb, &rb.val_bpb, 1, what);
        snprintf(what, sizeof what, "%s per-token losses", cases[i].name);
        assert_close_doubles(pa, pb, total, what);
        if (!exact() && cases[i].o) { /* the device again: the same bits */
            pg_eval_result again = score(&b, &v, cases[i].eo, cases[i].o, pa);
            ck_assert_msg(again.val_loss == rb.val_loss && memcmp(pa, pb, total * sizeof *pa) == 0,
                          "%s: two device runs differ", cases[i].name);
        }
        if (i == 1)
            plain = ra.val_loss;
        else if (i > 1) /* adaptation happened: the device really trained */
            ck_assert_msg(ra.val_loss != plain, "%s changed nothing", cases[i].name);
    }
    free(pa);
    free(pb);
    pg_bpb_lut_free(&v.lut);
    free(v.val);
    pg_model_free(&a);
    pg_model_free(&b);
}
END_TEST

typedef struct {
    const pg_model *m;
    const pg_bpb_lut *lut;
    pg_eval_opts eo;
    pg_ttt_opts o;
} ttt_scorer;

static int score_ttt(void *ctx, const uint16_t *stream, size_t n, double *per_token)
{
    ttt_scorer *s = ctx;
    pg_model copy;
    pg_eval_result r;
    if (pg_model_clone(&copy, s->m) != 0)
        return -1;
    int rc = pg_ttt_run(&copy, stream, n, s->lut, &s->eo, &s->o, &r, per_token);
    pg_model_free(&copy);
    return rc;
}

START_TEST(test_causality_audit_on_device)
{
    pg_model a, b;
    model_pair(&a, &b);
    pg_model_free(&a);
    val_data v;
    load_val(&v, 4000);
    ttt_scorer s = {&b, &v.lut, {.mode = PG_EVAL_SLIDING, .seq_len = 32, .stride = 16, .batch = 4}};
    pg_ttt_opts_default(&s.o);
    s.o.chunk_tokens = exact() ? 1024 : 512;
    s.o.epochs = 1;
    s.o.batch_seqs = 4;
    size_t total = pg_eval_total_targets(v.nval, 32);
    pg_audit_result r;
    ck_assert_msg(pg_audit_causality(score_ttt, &s, v.val, v.nval, total, 1024, total / 2, &r) == 0,
                  "%s", pg_errmsg());
    ck_assert_msg(r.first_diff < 0, "target %ld changed", r.first_diff);
    ck_assert(r.changed_after);
    pg_bpb_lut_free(&v.lut);
    free(v.val);
    pg_model_free(&b);
}
END_TEST

/* test_train's small configuration, validating and clipping, on two emulated ranks */
static void small_hparams(pg_hparams *h)
{
    t_small_hparams(h);
    const char *sets[][2] = {{"ITERATIONS", "10"},    {"WARMDOWN_ITERS", "4"},
                             {"VAL_LOSS_EVERY", "5"}, {"WORLD_SIZE", "2"},
                             {"GRAD_CLIP_NORM", "1.0"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_int_eq(pg_hparams_set(h, sets[i][0], sets[i][1]), 0);
    ck_assert_int_eq(pg_hparams_set(h, "DATA_PATH", data_dir()), 0);
}

static void file_sha(const char *dir, const char *name, char out[PG_SHA256_HEX_LEN])
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_msg(pg_sha256_file(p, out) == 0, "%s", pg_errmsg());
}

/* The parameters of two runs' final.ckpt, within DEVICE_TOL */
static void assert_close_checkpoints(const char *dir_a, const char *dir_b)
{
    char pa[1200], pb[1200];
    snprintf(pa, sizeof pa, "%s/final.ckpt", dir_a);
    snprintf(pb, sizeof pb, "%s/final.ckpt", dir_b);
    pg_model a, b;
    ck_assert_msg(pg_checkpoint_load(pa, &a, NULL) == 0, "%s", pg_errmsg());
    ck_assert_msg(pg_checkpoint_load(pb, &b, NULL) == 0, "%s", pg_errmsg());
    ck_assert_uint_eq(a.num_params, b.num_params);
    assert_close(a.be, a.params, b.be, b.params, a.num_params, 0, "trained parameters");
    pg_model_free(&a);
    pg_model_free(&b);
}

static volatile sig_atomic_t stop_flag;

static void stop_at_4(void *ctx, long step, double loss)
{
    (void)ctx;
    (void)loss;
    if (step == 4)
        stop_flag = 1;
}

START_TEST(test_training_on_device)
{
    pg_hparams h;
    small_hparams(&h);
    char cpu[1100], dev[1100], res[1100];
    snprintf(cpu, sizeof cpu, "%s", t_tmp_path("dev_train_cpu"));
    snprintf(dev, sizeof dev, "%s", t_tmp_path("dev_train_emu"));
    snprintf(res, sizeof res, "%s", t_tmp_path("dev_train_resume"));
    pg_train_opts o = {.out_dir = cpu, .quiet = 1, .force = 1};
    ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    o.out_dir = dev;
    o.backend = device();
    ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    char s1[PG_SHA256_HEX_LEN], s2[PG_SHA256_HEX_LEN];
    file_sha(cpu, "final.ckpt", s1);
    file_sha(dev, "final.ckpt", s2);
    if (exact())
        ck_assert_str_eq(s1, s2);
    else
        assert_close_checkpoints(cpu, dev);
    char p[1200], tag[64];
    snprintf(p, sizeof p, "%s/train.log", dev);
    snprintf(tag, sizeof tag, " backend:%s ", device()->name);
    char *log = t_read_text(p);
    ck_assert_ptr_nonnull(strstr(log, tag));
    free(log);
    file_sha(dev, "final.ckpt", s1); /* the device's own bits: resumed, they must be these */
    /* interrupted on the device after step 4, resumed there: the same final bits */
    stop_flag = 0;
    o.out_dir = res;
    o.stop = &stop_flag;
    o.on_step = stop_at_4;
    ck_assert_int_ne(pg_train(&h, &o), 0);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "interrupted at step 4"));
    stop_flag = 0;
    o.force = 0;
    o.resume = 1;
    ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    file_sha(res, "final.ckpt", s2);
    ck_assert_str_eq(s1, s2);
}
END_TEST

/* The April records' recipe on the device: MuonEq-R with Polar Express, decays, the
 * document-packing loader, the loop switched on mid-run, the EMA and GPTQ's Hessians, as
 * the CPU computes them. */
START_TEST(test_recipe_training_on_device)
{
    pg_hparams h;
    small_hparams(&h);
    const char *sets[][2] = {{"ITERATIONS", "6"},
                             {"VAL_LOSS_EVERY", "0"},
                             {"NUM_LOOPS", "1"},
                             {"LOOP_START", "1"},
                             {"LOOP_END", "1"},
                             {"ENABLE_LOOPING_AT", "0.5"},
                             {"WARMDOWN_FRAC", "0.5"},
                             {"MIN_LR", "0.1"},
                             {"MUON_ROW_NORMALIZE", "1"},
                             {"MUON_NS_COEFFS", "polar_express"},
                             {"MUON_WD", "0.1"},
                             {"EMBED_WD", "0.1"},
                             {"ADAM_WD", "0.05"},
                             {"GRAD_CLIP_NORM", "0.3"},
                             {"EMA_DECAY", "0.9"},
                             {"TRAIN_LOADER", "document_packing"},
                             {"GPTQ_CALIBRATION_BATCHES", "1"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_int_eq(pg_hparams_set(&h, sets[i][0], sets[i][1]), 0);
    char cpu[1100], dev[1100];
    snprintf(cpu, sizeof cpu, "%s", t_tmp_path("dev_recipe_cpu"));
    snprintf(dev, sizeof dev, "%s", t_tmp_path("dev_recipe_emu"));
    pg_train_opts o = {.out_dir = cpu, .quiet = 1, .force = 1};
    ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    o.out_dir = dev;
    o.backend = device();
    ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    char s1[PG_SHA256_HEX_LEN], s2[PG_SHA256_HEX_LEN];
    if (exact()) {
        const char *files[] = {"final.ckpt", "hessians.bin"};
        for (int i = 0; i < 2; i++) {
            file_sha(cpu, files[i], s1);
            file_sha(dev, files[i], s2);
            ck_assert_msg(strcmp(s1, s2) == 0, "%s differs from the CPU's", files[i]);
        }
    } else {
        assert_close_checkpoints(cpu, dev);
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/train.log", dev);
    char *log = t_read_text(p);
    ck_assert_ptr_nonnull(strstr(log, "layer_loop:enabled step:3 "));
    ck_assert_ptr_nonnull(strstr(log, "GPTQ:collected"));
    free(log);
}
END_TEST

START_TEST(test_files_from_device)
{
    pg_model a, b;
    model_pair(&a, &b);
    /* an optimizer-state extra on each side, laid out like the parameters */
    size_t bytes = a.num_params * sizeof(pg_real);
    pg_real *xa = a.be->alloc(bytes), *xb = b.be->alloc(bytes);
    pg_real *host = fetch(a.be, a.params, bytes);
    a.be->to_device(xa, host, bytes);
    b.be->to_device(xb, host, bytes);
    free(host);
    pg_ckpt_extra ea = {"optim.adam_m", xa}, eb = {"optim.adam_m", xb};
    const char *pa = t_tmp_path("dev_cpu.ckpt"), *pb = t_tmp_path("dev_emu.ckpt");
    ck_assert_int_eq(pg_checkpoint_save(pa, &a, NULL, &ea, 1), 0);
    ck_assert_int_eq(pg_checkpoint_save(pb, &b, NULL, &eb, 1), 0);
    char s1[PG_SHA256_HEX_LEN], s2[PG_SHA256_HEX_LEN];
    ck_assert_int_eq(pg_sha256_file(pa, s1), 0);
    ck_assert_int_eq(pg_sha256_file(pb, s2), 0);
    ck_assert_str_eq(s1, s2);
    pg_quant_plan plan;
    pg_quant_plan_mixed(&plan);
    pg_pack_stats st1, st2;
    unsigned char *i1, *i2;
    ck_assert_int_eq(pg_artifact_encode("cpu.art", &a, &plan, &st1, &i1), 0);
    ck_assert_int_eq(pg_artifact_encode("emu.art", &b, &plan, &st2, &i2), 0);
    ck_assert_uint_eq(st1.file_bytes, st2.file_bytes);
    ck_assert_int_eq(memcmp(i1, i2, st1.file_bytes), 0);
    free(i1);
    free(i2);
    /* a checkpoint loads on the CPU and moves to the device unchanged */
    pg_model back;
    ck_assert_int_eq(pg_checkpoint_load(pb, &back, NULL), 0);
    ck_assert_int_eq(pg_model_to_backend(&back, device()), 0);
    assert_same(a.be, a.params, back.be, back.params, bytes, "loaded parameters");
    pg_model_free(&back);
    a.be->free(xa);
    b.be->free(xb);
    pg_model_free(&a);
    pg_model_free(&b);
}
END_TEST

/* The emulated device with Adam's learning rate 1% too high: a training-only fault. */
static void skewed_adam(pg_real *p, const pg_real *g, pg_real *m, pg_real *v, size_t n,
                        double b1, double b2, double eps, double lr, double bc1, double bc2)
{
    device()->adam_update(p, g, m, v, n, b1, b2, eps, lr * 1.01, bc1, bc2);
}

START_TEST(test_selftest_model_rows)
{
    pg_selftest_report r;
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(pg_selftest_model(pg_backend_cpu(), device(), 0, NULL, &r), 0);
    ck_assert_int_eq(r.failures, 0);
    ck_assert_int_ge(r.n, 7);
    for (int i = 0; exact() && i < r.n; i++)
        ck_assert_msg(r.rows[i].max_abs == 0, "%s differs by %g", r.rows[i].op, r.rows[i].max_abs);
    pg_selftest_report_free(&r);

    pg_backend skewed = *device();
    skewed.adam_update = skewed_adam;
    ck_assert_int_eq(pg_selftest_model(pg_backend_cpu(), &skewed, 0, NULL, &r), 0);
    int loss_ok = 0, params_bad = 0;
    for (int i = 0; i < r.n; i++) {
        if (strcmp(r.rows[i].op, "model loss") == 0)
            loss_ok = r.rows[i].pass;
        if (strcmp(r.rows[i].op, "train 5 steps params") == 0)
            params_bad = !r.rows[i].pass;
    }
    ck_assert_msg(loss_ok && params_bad && r.failures > 0,
                  "the skewed Adam was not caught by the training rows alone");
    pg_selftest_report_free(&r);
}
END_TEST

START_TEST(test_backend_flag)
{
    const char *tok = t_repo_path("data/sample/sample_1024_bpe.model");
    const char *data = t_repo_path("data/sample");
    const char *ck = t_tmp_path("dev_flag.ckpt");
    t_run_result r = t_pgolf("init --preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 "
                             "--set TRAIN_SEQ_LEN=32 --out '%s'", ck);
    ck_assert_int_eq(r.status, 0);
    /* unknown names are usage errors, from the flag or the environment */
    r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --backend tpu", ck, data, tok);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--backend 'tpu': must be cpu, cuda or auto"));
    r = t_pgolf("run --backend gpu");
    ck_assert_int_eq(r.status, 2);
    setenv("PGOLF_BACKEND", "tpu", 1);
    r = t_pgolf("train --out '%s'", t_tmp_path("dev_flag_train"));
    unsetenv("PGOLF_BACKEND");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "PGOLF_BACKEND 'tpu': must be cpu, cuda or auto"));
    r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --quiet", ck, data, tok);
    ck_assert_int_eq(r.status, 0);
    char cpu_out[512];
    snprintf(cpu_out, sizeof cpu_out, "%s", strstr(r.out, "final_eval_exact"));
    const pg_backend *be;
    char note[300];
    if (pg_backend_select("cuda", &be, note, sizeof note) == 0) {
        fprintf(stderr, "SKIP %s (no-GPU half): a CUDA device is present\n", __func__);
    } else {
        r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --backend cuda", ck, data, tok);
        ck_assert_int_eq(r.status, 1);
        ck_assert_int_eq(t_count_lines(r.err), 1);
        ck_assert_msg(strncmp(r.err, "pgolf: --backend cuda: ", 23) == 0, "%s", r.err);
        /* auto falls back to the CPU, says so once, and scores the same */
        r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --quiet --backend auto", ck, data, tok);
        ck_assert_int_eq(r.status, 0);
        ck_assert_ptr_nonnull(strstr(r.err, "pgolf: note: backend auto: the CPU ("));
        ck_assert_str_eq(strstr(r.out, "final_eval_exact"), cpu_out);
        const char *ck2 = t_tmp_path("dev_flag_auto.ckpt");
        r = t_pgolf("init --preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 "
                    "--set TRAIN_SEQ_LEN=32 --out '%s' --backend auto", ck2);
        ck_assert_int_eq(r.status, 0);
        char s1[PG_SHA256_HEX_LEN], s2[PG_SHA256_HEX_LEN];
        ck_assert_int_eq(pg_sha256_file(ck, s1), 0);
        ck_assert_int_eq(pg_sha256_file(ck2, s2), 0);
        ck_assert_str_eq(s1, s2);
        /* make gpu-proof's script: one SKIP line */
        char cmd[3000], out[600] = "";
        snprintf(cmd, sizeof cmd, "PGOLF_ROOT='%s' PGOLF_BIN='%s' '%s/tests/gpu/gpu_proof.sh' 2>&1",
                 t_root(), getenv("PGOLF_BIN"), t_root());
        FILE *f = popen(cmd, "r");
        ck_assert_ptr_nonnull(f);
        size_t got = fread(out, 1, sizeof out - 1, f);
        out[got] = '\0';
        ck_assert_int_eq(pclose(f), 0);
        ck_assert_int_eq(t_count_lines(out), 1);
        ck_assert_msg(strncmp(out, "SKIP: gpu-proof: --backend cuda: ", 33) == 0, "%s", out);
    }
}
END_TEST

/* One small pgolf run on the CPU or the emulated device (1 seed, sliding and TTT evals). */
static json_t *small_run(const char *dir, const pg_backend *be)
{
    pg_run_config c;
    ck_assert_int_eq(pg_run_config_preset(&c, "tiny", t_root()), 0);
    const char *sets[][2] = {{"NUM_LAYERS", "2"}, {"MODEL_DIM", "32"}, {"TRAIN_SEQ_LEN", "32"},
                             {"ITERATIONS", "6"}, {"WARMDOWN_ITERS", "2"},
                             {"TRAIN_BATCH_TOKENS", "512"}, {"VAL_LOSS_EVERY", "0"},
                             {"RUN_SEEDS", "3"}, {"RUN_SLIDING_STRIDE", "16"}, {"RUN_TTT", "1"},
                             {"TTT_CHUNK_TOKENS", "8192"}, {"TTT_EPOCHS", "1"},
                             {"RUN_DATE", "2026-11-25"}, {"DATA_PATH", data_dir()}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_int_eq(pg_run_config_set(&c, sets[i][0], sets[i][1]), 0);
    ck_assert_int_eq(pg_run_config_finish(&c), 0);
    pg_run_opts o = {.run_dir = dir, .source_root = t_root(), .use_cache = 1, .backend = be};
    ck_assert_msg(pg_run(&c, &o) == 0, "%s", pg_errmsg());
    json_t *m;
    ck_assert_int_eq(pg_manifest_load(dir, &m), 0);
    ck_assert_ptr_nonnull(m);
    return m;
}

static const char *output_sha(json_t *m, const char *stage, const char *suffix)
{
    json_t *outs = json_object_get(pg_manifest_stage(m, stage), "outputs"), *f;
    size_t i;
    json_array_foreach(outs, i, f)
    {
        const char *path = json_string_value(json_object_get(f, "path"));
        size_t n = strlen(path), k = strlen(suffix);
        if (n >= k && strcmp(path + n - k, suffix) == 0)
            return json_string_value(json_object_get(f, "sha256"));
    }
    ck_abort_msg("%s has no output %s", stage, suffix);
    return NULL;
}

START_TEST(test_run_on_device)
{
    char cpu[1100], dev[1100];
    snprintf(cpu, sizeof cpu, "%s", t_tmp_path("dev_run_cpu"));
    snprintf(dev, sizeof dev, "%s", t_tmp_path("dev_run_device"));
    json_t *mc = small_run(cpu, NULL), *md = small_run(dev, device());
    json_t *bc = json_object_get(mc, "backend"), *bd = json_object_get(md, "backend");
    ck_assert_str_eq(json_string_value(json_object_get(bc, "name")), "cpu");
    ck_assert_str_eq(json_string_value(json_object_get(bd, "name")), device()->name);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(bd, "device")),
                                 exact() ? "emulated" : "CPU execution engine"));
    /* the backend is a parameter of the stages that compute, and only of those */
    const char *computing[] = {"train/seed3", "eval/seed3"};
    for (int i = 0; i < 2; i++) {
        json_t *p = json_object_get(pg_manifest_stage(md, computing[i]), "params");
        ck_assert_str_eq(json_string_value(json_object_get(p, "backend")), device()->name);
        p = json_object_get(pg_manifest_stage(mc, computing[i]), "params");
        ck_assert_ptr_null(json_object_get(p, "backend"));
    }
    ck_assert_ptr_null(json_object_get(json_object_get(pg_manifest_stage(md, "quantize/seed3"), "params"),
                                       "backend"));
    /* the same model, artifact and scores (eval.json, with TTT the claim); on the CUDA
     * backend the same model and claim within DEVICE_TOL */
    const char *files[][2] = {{"train/seed3", "final.ckpt"}, {"compress/seed3", "model.art"},
                              {"eval/seed3", "eval.json"}};
    for (int i = 0; exact() && i < 3; i++)
        ck_assert_str_eq(output_sha(mc, files[i][0], files[i][1]),
                         output_sha(md, files[i][0], files[i][1]));
    if (!exact()) {
        char ta[1200], tb[1200];
        snprintf(ta, sizeof ta, "%s/train/seed3", cpu);
        snprintf(tb, sizeof tb, "%s/train/seed3", dev);
        assert_close_checkpoints(ta, tb);
        double bpb[2];
        for (int i = 0; i < 2; i++) {
            char p[1200];
            snprintf(p, sizeof p, "%s/eval/seed3/eval.json", i ? dev : cpu);
            json_t *doc = json_load_file(p, 0, NULL);
            ck_assert_ptr_nonnull(doc);
            bpb[i] = json_real_value(json_object_get(json_object_get(doc, "final"), "val_bpb"));
            json_decref(doc);
        }
        assert_close_doubles(&bpb[0], &bpb[1], 1, "the run's final val_bpb");
    }
    json_decref(mc);
    json_decref(md);
}
END_TEST

Suite *suite_device(void)
{
    Suite *s = suite_create("device");
    TCase *tc = tcase_create("emulated device");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_graph_on_device);
    tcase_add_test(tc, test_records_graph_on_device);
    tcase_add_test(tc, test_eval_and_ttt_on_device);
    tcase_add_test(tc, test_causality_audit_on_device);
    tcase_add_test(tc, test_training_on_device);
    tcase_add_test(tc, test_recipe_training_on_device);
    tcase_add_test(tc, test_files_from_device);
    tcase_add_test(tc, test_selftest_model_rows);
    tcase_add_test(tc, test_backend_flag);
    tcase_add_test(tc, test_run_on_device);
    suite_add_tcase(s, tc);
    return s;
}
