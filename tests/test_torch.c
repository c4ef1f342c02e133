/* PyTorch model files: the golden files made by tests/golden/make_torch.py with torch
 * (weights and scores of the reference model), export/import round trips, the CLI, and
 * hostile files (other globals, bad storages, strides, zip paths, bombs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "common/err.h"
#include "common/sha256.h"
#include "dataset/shard.h"
#include "dataset/tokenizer.h"
#include "kernels/checkpoint.h"
#include "kernels/eval.h"
#include "packager/artifact.h"
#include "packager/torchexport.h"
#include "packager/torchfile.h"
#include "packager/torchimport.h"
#include "tests/util.h"

static const char *const kSeq64[] = {"TRAIN_SEQ_LEN=64"};
static const pg_import_hints kHints = {NULL, kSeq64, 1};

static void expect_error(const char *got, const char *want)
{
    ck_assert_msg(got[0] && strstr(got, want), "want an error with \"%s\", got \"%s\"", want, got);
    ck_assert_ptr_null(strchr(got, '\n'));
}

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-30); }

static void params_sha(const pg_model *m, char hex[PG_SHA256_HEX_LEN])
{
    uint8_t d[PG_SHA256_LEN];
    pg_sha256(m->params, m->num_params * sizeof(float), d); /* little-endian float32 */
    pg_sha256_hex(d, hex);
}

START_TEST(golden_files_match_torch)
{
    json_t *g = t_load_json(t_repo_path("tests/golden/torchfiles/torch.json"));
    ck_assert_ptr_nonnull(g);
    int seq = (int)json_integer_value(json_object_get(g, "seq_len"));
    int windows = (int)json_integer_value(json_object_get(g, "windows"));
    uint16_t *val;
    size_t nval;
    pg_tokenizer tok;
    pg_bpb_lut lut;
    ck_assert_int_eq(pg_shards_load(t_repo_path("data/sample"), "val", 1024, &val, &nval), 0);
    ck_assert_int_eq(pg_tokenizer_load(t_repo_path("data/sample/sample_1024_bpe.model"), &tok), 0);
    ck_assert_int_eq(pg_bpb_lut_build(&tok, 1024, &lut), 0);
    const char *fname;
    json_t *want;
    int files = 0;
    json_object_foreach(json_object_get(g, "files"), fname, want)
    {
        char rp[128];
        snprintf(rp, sizeof rp, "tests/golden/torchfiles/%s", fname);
        pg_torch_state st;
        ck_assert_msg(pg_torch_load(t_repo_path(rp), &st) == 0, "%s", pg_errmsg());
        ck_assert_str_eq(st.format, json_string_value(json_object_get(want, "format")));
        ck_assert_str_eq(st.wrapper, json_string_value(json_object_get(want, "wrapper")));
        pg_model m;
        ck_assert_msg(pg_torch_to_model(rp, &st, &kHints, &m) == 0, "%s", pg_errmsg());
        pg_torch_state_free(&st);
        pg_model_config c; /* every field eval reads (init scales are not stored) */
        ck_assert_int_eq(pg_config_from_json(json_object_get(want, "config"), &c, fname), 0);
        ck_assert(c.vocab_size == m.cfg.vocab_size && c.num_layers == m.cfg.num_layers &&
                  c.model_dim == m.cfg.model_dim && c.num_heads == m.cfg.num_heads &&
                  c.num_kv_heads == m.cfg.num_kv_heads && c.mlp_mult == m.cfg.mlp_mult &&
                  c.seq_len == m.cfg.seq_len && c.mlp_act == m.cfg.mlp_act &&
                  c.rope_base == m.cfg.rope_base && c.logit_softcap == m.cfg.logit_softcap);
        char hex[PG_SHA256_HEX_LEN];
        params_sha(&m, hex);
        ck_assert_str_eq(hex, json_string_value(json_object_get(want, "weights_sha256")));
        pg_eval_opts o = {.mode = PG_EVAL_STANDARD, .seq_len = seq, .batch = 4};
        pg_eval_result r;
        ck_assert_int_eq(pg_eval_run(&m, val, (size_t)(seq * windows + 1), &lut, &o, &r, NULL), 0);
        double wl = json_real_value(json_object_get(want, "val_loss"));
        double wb = json_real_value(json_object_get(want, "val_bpb"));
        ck_assert_double_eq(r.bytes, json_integer_value(json_object_get(want, "bytes")));
        ck_assert_msg(rel(r.val_loss, wl) <= 1e-6 && rel(r.val_bpb, wb) <= 1e-6,
                      "%s: val_loss %.9f vs torch %.9f, val_bpb %.9f vs %.9f", fname, r.val_loss,
                      wl, r.val_bpb, wb);
        fprintf(stderr, "%s (%s): val_loss rel diff %.2e vs PyTorch\n", fname,
                json_string_value(json_object_get(want, "format")), rel(r.val_loss, wl));
        pg_model_free(&m);
        files++;
    }
    ck_assert_int_eq(files, 5);
    free(val);
    pg_bpb_lut_free(&lut);
    pg_tokenizer_free(&tok);
    json_decref(g);
}
END_TEST

/* export -> import equals pgolf's own int8 pack -> unpack: both are the reference's
 * quantizer; and export is deterministic. */
START_TEST(export_import_round_trip)
{
    pg_model m, back, packed;
    pg_torch_state st;
    ck_assert_int_eq(pg_torch_load(t_repo_path("tests/golden/torchfiles/raw.pt"), &st), 0);
    ck_assert_int_eq(pg_torch_to_model("raw.pt", &st, &kHints, &m), 0);
    pg_torch_state_free(&st);
    uint8_t *a, *b;
    size_t na, nb;
    ck_assert_int_eq(pg_torch_export_int8(&m, &a, &na), 0);
    ck_assert_int_eq(pg_torch_export_int8(&m, &b, &nb), 0);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(a, b, na), 0);
    ck_assert_int_eq(pg_torch_decode("export", a, na, &st), 0);
    ck_assert_str_eq(st.format, "int8_clean_per_row_v1");
    ck_assert_str_eq(st.wrapper, "zlib");
    ck_assert_int_eq(pg_torch_to_model("export", &st, &kHints, &back), 0);
    pg_torch_state_free(&st);
    pg_quant_plan plan;
    pg_quant_plan_int8(&plan);
    const char *art = t_tmp_path("rt.art");
    pg_pack_stats ps;
    ck_assert_int_eq(pg_artifact_save(art, &m, &plan, &ps), 0);
    ck_assert_int_eq(pg_artifact_load(art, &packed, NULL), 0);
    ck_assert_uint_eq(back.num_params, packed.num_params);
    ck_assert_int_eq(memcmp(back.params, packed.params, back.num_params * sizeof(float)), 0);
    free(a);
    free(b);
    pg_model_free(&m);
    pg_model_free(&back);
    pg_model_free(&packed);
}
END_TEST

/* The same zip behind zstd instead of zlib: found by magic, same weights. */
START_TEST(zstd_wrapper)
{
    size_t n;
    uint8_t *ptz = t_read_bytes(t_repo_path("tests/golden/torchfiles/int8.ptz"), &n);
    uLongf zn = 4 << 20;
    uint8_t *zip = malloc(zn);
    ck_assert_int_eq(uncompress(zip, &zn, ptz, (uLong)n), Z_OK);
    size_t cap = ZSTD_compressBound(zn);
    uint8_t *zs = malloc(cap);
    size_t zsn = ZSTD_compress(zs, cap, zip, zn, 19);
    ck_assert(!ZSTD_isError(zsn));
    pg_torch_state a, b;
    ck_assert_int_eq(pg_torch_decode("int8.ptz", ptz, n, &a), 0);
    ck_assert_int_eq(pg_torch_decode("int8.zst", zs, zsn, &b), 0);
    ck_assert_str_eq(b.wrapper, "zstd");
    ck_assert_uint_eq(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_str_eq(a.t[i].name, b.t[i].name);
        ck_assert_int_eq(memcmp(a.t[i].data, b.t[i].data, a.t[i].numel * sizeof(float)), 0);
    }
    pg_torch_state_free(&b);
    ck_assert_int_eq(pg_torch_decode("cut.zst", zs, zsn - 7, &b), -1);
    expect_error(pg_errmsg(), "zstd stream");
    pg_torch_state_free(&a);
    free(ptz);
    free(zip);
    free(zs);
}
END_TEST

START_TEST(cli_import_eval_export)
{
    const char *ck = t_tmp_path("imp.ckpt"), *ptz = t_tmp_path("exp.ptz");
    t_run_result r = t_pgolf("import %s --set TRAIN_SEQ_LEN=64 --out %s",
                             t_repo_path("tests/golden/torchfiles/w_m.xz"), ck);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "w_m_per_row (xz), 2 layers x 72"));
    r = t_pgolf("eval %s --set TRAIN_SEQ_LEN=64 --data %s --tokenizer %s --quiet --json",
                t_repo_path("tests/golden/torchfiles/w_m.xz"), t_repo_path("data/sample"),
                t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_t *direct = json_loads(r.out, 0, NULL);
    r = t_pgolf("eval %s --data %s --tokenizer %s --quiet --json", ck, t_repo_path("data/sample"),
                t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_t *via = json_loads(r.out, 0, NULL);
    ck_assert_double_eq(json_real_value(json_object_get(direct, "val_bpb")),
                        json_real_value(json_object_get(via, "val_bpb")));
    ck_assert_str_eq(json_string_value(json_object_get(direct, "model_format")),
                     "torch w_m_per_row (xz)");
    json_decref(direct);
    json_decref(via);
    r = t_pgolf("export %s --format int8-ptz --out %s", ck, ptz);
    ck_assert_msg(r.status == 0, "%s", r.err);
    r = t_pgolf("export %s --format fp8 --out %s", ck, ptz);
    ck_assert_int_eq(r.status, 2);
}
END_TEST

/* The log supplies what tensors cannot tell; a setting contradicting them is an error. */
START_TEST(log_and_set_hints)
{
    const char *log = t_tmp_path("hints.log"), *ck = t_tmp_path("hinted.ckpt");
    const char *text = "attention_mode:gqa num_heads:4 num_kv_heads:2\n"
                       "train_batch_tokens:4096 train_seq_len:48 iterations:10\n"
                       "  logit_softcap: 20.0\n  rope_base: 5000\n  ttt_lr: 0.1\n";
    t_write_bytes(log, text, strlen(text));
    const char *f = t_repo_path("tests/golden/torchfiles/int8.ptz");
    t_run_result r = t_pgolf("import %s --log %s --out %s", f, log, ck);
    ck_assert_msg(r.status == 0, "%s", r.err);
    pg_model m;
    ck_assert_int_eq(pg_checkpoint_load(ck, &m, NULL), 0);
    ck_assert_int_eq(m.cfg.seq_len, 48);
    ck_assert_float_eq(m.cfg.logit_softcap, 20.0f);
    ck_assert_float_eq(m.cfg.rope_base, 5000.0f);
    pg_model_free(&m);
    r = t_pgolf("import %s --set NUM_HEADS=8 --out %s", f, ck);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "NUM_HEADS=8 was given but the tensors say 4"));
    text = "num_heads:6\n";
    t_write_bytes(log, text, strlen(text));
    r = t_pgolf("import %s --log %s --out %s", f, log, ck);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "NUM_HEADS=6 was given"));
}
END_TEST

/* verify --rerun re-scores a PyTorch artifact in a records folder against its log. */
START_TEST(verify_rerun_torch_artifact)
{
    t_run_result r = t_pgolf("eval %s --set TRAIN_SEQ_LEN=64 --data %s --tokenizer %s --quiet --json",
                             t_repo_path("tests/golden/torchfiles/int8.ptz"),
                             t_repo_path("data/sample"),
                             t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_t *e = json_loads(r.out, 0, NULL);
    double loss = json_real_value(json_object_get(e, "val_loss"));
    double bpb = json_real_value(json_object_get(e, "val_bpb"));
    json_decref(e);
    for (int wrong = 0; wrong < 2; wrong++) {
        char dir[64];
        snprintf(dir, sizeof dir, "rec%d", wrong);
        const char *d = t_tmp_path(dir);
        char cmd[1024], logtext[512], path[600];
        snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s %s/final_model.int8.ptz", d,
                 t_repo_path("tests/golden/torchfiles/int8.ptz"), d);
        ck_assert_int_eq(system(cmd), 0);
        snprintf(logtext, sizeof logtext,
                 "train_batch_tokens:4096 train_seq_len:64 iterations:10\nseed:7\n"
                 "final_int8_zlib_roundtrip val_loss:%.4f val_bpb:%.4f\n"
                 "final_int8_zlib_roundtrip_exact val_loss:%.8f val_bpb:%.8f\n",
                 loss, bpb + wrong * 0.01, loss, bpb + wrong * 0.01);
        snprintf(path, sizeof path, "%s/train.log", d);
        t_write_bytes(path, logtext, strlen(logtext));
        r = t_pgolf("verify %s --rerun --data %s --tokenizer %s --json", d,
                    t_repo_path("data/sample"), t_repo_path("data/sample/sample_1024_bpe.model"));
        json_t *v = json_loads(r.out, 0, NULL);
        ck_assert_msg(v != NULL, "%s", r.err);
        const char *want = wrong ? "FAIL" : "PASS";
        int found = 0;
        size_t i;
        json_t *chk;
        json_array_foreach(json_object_get(v, "checks"), i, chk)
        {
            const char *name = json_string_value(json_object_get(chk, "name"));
            if (name && strcmp(name, "rerun.final_model.int8.ptz") == 0) {
                found = 1;
                ck_assert_str_eq(json_string_value(json_object_get(chk, "status")), want);
                ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(chk, "evidence")),
                                             "torch int8_clean_per_row_v1 (zlib)"));
            }
        }
        ck_assert_msg(found, "no rerun check in %s", r.out);
        json_decref(v);
    }
}
END_TEST

/* ---- hostile files ------------------------------------------------------------------- */

typedef struct {
    const char *name;
    const void *data;
    size_t n;
} member;

/* A stored zip of the members, as bytes (*len). */
static uint8_t *make_zip(const member *ms, int n, size_t *len)
{
    size_t cap = 1 << 20, used = 0;
    uint8_t *buf = malloc(cap);
    struct archive *a = archive_write_new();
    ck_assert_int_eq(archive_write_set_format_zip(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_set_options(a, "zip:compression=store"), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, ms[i].name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)ms[i].n);
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        if (ms[i].n)
            ck_assert_int_eq(archive_write_data(a, ms[i].data, ms[i].n), (la_ssize_t)ms[i].n);
        archive_entry_free(e);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    *len = used;
    return buf;
}

/* A one-tensor state dict {"tok_emb.weight": tensor} whose storage declares `numel`
 * elements, with the given size, stride and offset (BININT, so negatives are possible). */
static size_t tensor_pickle(uint8_t *p, int32_t numel, int32_t size, int32_t stride, int32_t offset)
{
    size_t n = 0;
#define PUT(s, len) (memcpy(p + n, s, len), n += (len))
#define PUTS(lit) PUT(lit, sizeof(lit) - 1)
#define INT(v) (p[n++] = 'J', memcpy(p + n, &(int32_t){v}, 4), n += 4)
#define STR(s) (p[n++] = 'X', memcpy(p + n, &(uint32_t){(uint32_t)strlen(s)}, 4), n += 4, PUT(s, strlen(s)))
    PUTS("\x80\x02}(");
    STR("tok_emb.weight");
    PUTS("ctorch._utils\n_rebuild_tensor_v2\n((");
    STR("storage");
    PUTS("ctorch\nFloatStorage\n");
    STR("0");
    STR("cpu");
    INT(numel);
    PUTS("tQ");
    INT(offset);
    PUTS("(");
    INT(size);
    PUTS("t(");
    INT(stride);
    PUTS("t\x89" "ccollections\nOrderedDict\n)RtRu.");
#undef PUT
#undef PUTS
#undef INT
#undef STR
    return n;
}

/* Decodes a zip of data.pkl (+ data/0 of `storage_bytes` zero bytes); returns the error. */
static const char *decode_pickle(const uint8_t *pkl, size_t n, size_t storage_bytes,
                                 const char *top)
{
    static char msg[512];
    uint8_t *zeros = calloc(1, storage_bytes + 1);
    char pn[64], dn[64];
    snprintf(pn, sizeof pn, "%s/data.pkl", top);
    snprintf(dn, sizeof dn, "%s/data/0", top);
    member ms[] = {{pn, pkl, n}, {dn, zeros, storage_bytes}};
    size_t zl;
    uint8_t *zip = make_zip(ms, 2, &zl);
    pg_torch_state st;
    int rc = pg_torch_decode("hostile.pt", zip, zl, &st);
    snprintf(msg, sizeof msg, "%s", rc == 0 ? "" : pg_errmsg());
    if (rc == 0)
        pg_torch_state_free(&st);
    free(zip);
    free(zeros);
    return msg;
}

START_TEST(hostile_pickles)
{
    uint8_t p[512];
    size_t n = tensor_pickle(p, 16, 16, 1, 0);
    ck_assert_str_eq(decode_pickle(p, n, 64, "archive"), ""); /* the well-formed case loads */
    expect_error(decode_pickle(p, n, 40, "archive"), "storage data/0 holds 40 bytes, not 16");
    n = tensor_pickle(p, 16, 32, 1, 0);
    expect_error(decode_pickle(p, n, 64, "archive"), "more elements than its storage");
    n = tensor_pickle(p, 16, 8, 3, 0);
    expect_error(decode_pickle(p, n, 64, "archive"), "past the end of its storage");
    n = tensor_pickle(p, 16, 8, 1, 9);
    expect_error(decode_pickle(p, n, 64, "archive"), "past the end of its storage");
    n = tensor_pickle(p, 16, 4, -1, 0);
    expect_error(decode_pickle(p, n, 64, "archive"), "non-negative integers");
    n = tensor_pickle(p, 16, 2, 0x7fffffff, 0);
    expect_error(decode_pickle(p, n, 64, "archive"), "past the end of its storage");
    n = tensor_pickle(p, 16, 16, 1, 0);
    expect_error(decode_pickle(p, n, 64, ".."), "not a plain path");

    static const char os_system[] = "\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00lsx\x85R.";
    expect_error(decode_pickle((const uint8_t *)os_system, sizeof os_system - 1, 0, "archive"),
                 "global os.system is not allowed");
    static const char eval4[] = "\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93\x8c\x01" "1\x85R.";
    expect_error(decode_pickle((const uint8_t *)eval4, sizeof eval4 - 1, 0, "archive"),
                 "global builtins.eval is not allowed");
    static const char reduce_dtype[] = "\x80\x02" "ctorch\nfloat32\n)R.";
    expect_error(decode_pickle((const uint8_t *)reduce_dtype, sizeof reduce_dtype - 1, 0, "archive"),
                 "REDUCE on something other than");
    static const char inst[] = "\x80\x02(ios\nsystem\n.";
    expect_error(decode_pickle((const uint8_t *)inst, sizeof inst - 1, 0, "archive"),
                 "opcode 0x69 is not allowed");
    static const char no_stop[] = "\x80\x02}";
    expect_error(decode_pickle((const uint8_t *)no_stop, sizeof no_stop - 1, 0, "archive"),
                 "pickle ends without STOP");
    static const char bad_get[] = "\x80\x02h\x05.";
    expect_error(decode_pickle((const uint8_t *)bad_get, sizeof bad_get - 1, 0, "archive"),
                 "memo GET of an index never PUT");
}
END_TEST

START_TEST(hostile_wrappers)
{
    pg_torch_state st;
    /* a zlib bomb: 16 MiB of zeros */
    size_t big = (size_t)16 << 20;
    uint8_t *zeros = calloc(1, big);
    uLongf zn = compressBound((uLong)big);
    uint8_t *z = malloc(zn);
    ck_assert_int_eq(compress2(z, &zn, zeros, (uLong)big, 9), Z_OK);
    ck_assert_int_eq(pg_torch_decode("bomb.ptz", z, zn, &st), -1);
    expect_error(pg_errmsg(), "decompression bomb");
    /* an xz bomb */
    size_t xn = 0, xcap = big;
    uint8_t *x = malloc(xcap);
    ck_assert_int_eq(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, zeros, big, x, &xn, xcap), LZMA_OK);
    ck_assert_int_eq(pg_torch_decode("bomb.xz", x, xn, &st), -1);
    expect_error(pg_errmsg(), "xz/lzma stream decodes to more than");
    /* a zlib stream of something that is not a zip */
    zn = compressBound(1000);
    ck_assert_int_eq(compress2(z, &zn, zeros, 1000, 9), Z_OK);
    ck_assert_int_eq(pg_torch_decode("notzip.ptz", z, zn, &st), -1);
    expect_error(pg_errmsg(), "does not hold a torch.save zip");
    /* truncated: half of a real artifact */
    size_t n;
    uint8_t *real = t_read_bytes(t_repo_path("tests/golden/torchfiles/int8.ptz"), &n);
    ck_assert_int_eq(pg_torch_decode("half.ptz", real, n / 2, &st), -1);
    expect_error(pg_errmsg(), "truncated zlib stream");
    /* junk with no magic */
    ck_assert_int_eq(pg_torch_decode("junk.pt", (const uint8_t *)"hello, world", 12, &st), -1);
    expect_error(pg_errmsg(), "not a torch.save file");
    free(real);
    free(x);
    free(z);
    free(zeros);
}
END_TEST

/* Tensors beyond the baseline family are named; a missing one too. */
START_TEST(unknown_and_missing_tensors)
{
    pg_torch_state st;
    ck_assert_int_eq(pg_torch_load(t_repo_path("tests/golden/torchfiles/raw.pt"), &st), 0);
    snprintf(st.t[st.n - 1].name, sizeof st.t[0].name, "bigram.embed.weight");
    pg_model m;
    ck_assert_int_eq(pg_torch_to_model("x.pt", &st, &kHints, &m), -1);
    expect_error(pg_errmsg(), "1 tensor pgolf's model of this config does not have (another "
                              "architecture, or an option the log did not give?): "
                              "bigram.embed.weight");
    st.n--; /* the renamed one was the last model tensor: now it is missing */
    ck_assert_int_eq(pg_torch_to_model("x.pt", &st, &kHints, &m), -1);
    expect_error(pg_errmsg(), "1 tensor of the model is missing: skip_weights");
    st.n++;
    pg_torch_state_free(&st);
}
END_TEST

/* Non-finite weights are refused where a model is imported or packed. */
START_TEST(nonfinite_weights_refused)
{
    pg_torch_state st;
    pg_model m;
    ck_assert_int_eq(pg_torch_load(t_repo_path("tests/golden/torchfiles/raw.pt"), &st), 0);
    ck_assert_int_eq(pg_torch_to_model("raw.pt", &st, &kHints, &m), 0);
    st.t[1].data[5] = NAN;
    pg_model bad;
    ck_assert_int_eq(pg_torch_to_model("raw.pt", &st, &kHints, &bad), -1);
    expect_error(pg_errmsg(), "holds nan at index 5: non-finite weights");
    pg_torch_state_free(&st);
    m.params[m.tensors[2].offset + 3] = INFINITY;
    pg_quant_plan plan;
    pg_quant_plan_int8(&plan);
    pg_pack_stats ps;
    const char *art = t_tmp_path("inf.art");
    ck_assert_int_eq(pg_artifact_save(art, &m, &plan, &ps), -1);
    expect_error(pg_errmsg(), "holds inf at index 3: a model with non-finite weights is not packed");
    ck_assert_int_ne(access(art, F_OK), 0);
    pg_model_free(&m);
}
END_TEST

/* The April records' artifact (tests/golden/make_records_artifact.py): every meta kind
 * they write, read with weights bit-identical to the reference's dequantization, the
 * run constants from their hyperparameter dump, and the diagnostic re-scored. */
static const char *rec_file(const char *name)
{
    static char path[4][600];
    static int k;
    char rel[200];
    snprintf(rel, sizeof rel, "tests/golden/records_artifact/%s", name);
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s", t_repo_path(rel));
    return path[k];
}

START_TEST(records_artifact_read)
{
    json_t *exp = t_load_json(rec_file("expected.json"));
    pg_import_hints h = {.log_path = rec_file("train_seed7.log")};
    pg_model m;
    char what[96];
    /* the per-group container holds the same tensors: the same weights, bit for bit */
    ck_assert_msg(pg_model_file_load(rec_file("final_model.pgrp.ptz"), &h, &m, NULL, what,
                                     sizeof what) == 0, "%s", pg_errmsg());
    ck_assert_str_eq(what, "torch pergroup (pgrp (lrzip+brotli))");
    uint8_t d[PG_SHA256_LEN];
    char hex[PG_SHA256_HEX_LEN];
    pg_sha256(m.params, m.num_params * sizeof(float), d);
    pg_sha256_hex(d, hex);
    ck_assert_str_eq(hex, json_string_value(json_object_get(exp, "dequantized_sha256")));
    pg_model_free(&m);
    ck_assert_msg(pg_model_file_load(rec_file("final_model.int6.ptz"), &h, &m, NULL, what,
                                     sizeof what) == 0, "%s", pg_errmsg());
    ck_assert_str_eq(what, "torch w_m_per_row (brotli+bshf)");
    /* the dump's constants and the tensors' switches */
    ck_assert(m.cfg.num_loops == 1 && m.cfg.loop_start == 1 && m.cfg.loop_end == 2);
    ck_assert(m.cfg.parallel_start == 3 && m.cfg.xsa_last_n == 5 && m.cfg.ln_scale == 1);
    ck_assert(m.cfg.rope_dims == 4 && m.cfg.skip_gates && m.cfg.sparse_gate && m.cfg.smear_gate);
    ck_assert(m.cfg.gate_window == 8 && m.cfg.sparse_gate_scale == 0.5f);
    ck_assert_int_eq(m.cfg.mlp_act, PG_MLP_LEAKY_RELU2);
    pg_sha256(m.params, m.num_params * sizeof(float), d);
    pg_sha256_hex(d, hex);
    ck_assert_str_eq(hex, json_string_value(json_object_get(exp, "dequantized_sha256")));
    /* the embedding was rounded to bfloat16, as the records' eval model keeps it */
    const pg_tensor_info *emb = pg_model_find_tensor(&m, "tok_emb.weight");
    for (size_t i = 0; i < emb->numel; i++) {
        uint32_t u;
        memcpy(&u, &m.params[emb->offset + i], 4);
        ck_assert_uint_eq(u & 0xffffu, 0);
    }
    pg_model_free(&m);
    /* the document-packed diagnostic, as the reference computed it */
    t_run_result r = t_pgolf("eval %s --log %s --data %s --tokenizer %s --mode documents "
                             "--pack 2 --ranks 1 --quiet --json",
                             rec_file("final_model.int6.ptz"), rec_file("train_seed7.log"),
                             t_repo_path("data/sample"),
                             t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_t *e = json_loads(r.out, 0, NULL);
    double want = json_real_value(json_object_get(exp, "val_loss"));
    double got = json_real_value(json_object_get(e, "val_loss"));
    ck_assert_msg(fabs(got - want) <= 1e-6 * want, "val_loss %.10g, torch %.10g", got, want);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "bytes")),
                     json_integer_value(json_object_get(exp, "bytes")));
    fprintf(stderr, "records artifact: weights bit-identical, diagnostic val_loss rel diff %.2e "
                    "vs PyTorch\n", fabs(got - want) / want);
    json_decref(e);
    json_decref(exp);
}
END_TEST

START_TEST(records_artifact_errors)
{
    const char *out = t_tmp_path("rec_bad.ckpt");
    t_run_result r = t_pgolf("import %s --out %s", rec_file("bad_kind.pt"), out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "meta kind \"gptq (int6)+awq\", which pgolf does not know"));
    /* the per-group container: lrzip missing, and a row order that is not a permutation */
    const char *bin = getenv("PGOLF_BIN");
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "PATH=/nonexistent %s import %s --log %s --out %s 2>%s",
             bin && *bin ? bin : "./pgolf", rec_file("final_model.pgrp.ptz"),
             rec_file("train_seed7.log"), out, t_tmp_path("nolrzip.err"));
    int st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    char *err = t_read_text(t_tmp_path("nolrzip.err"));
    ck_assert_msg(strstr(err, "an lrzip stream needs the lrzip program") != NULL, "%s", err);
    free(err);
    size_t len;
    unsigned char *pgrp = t_read_bytes(rec_file("final_model.pgrp.ptz"), &len);
    memcpy(pgrp + 8 + 4 * 7, "\0\0\0\0", 4); /* the row orders' stream emptied */
    const char *cut = t_tmp_path("cut.pgrp.ptz");
    t_write_bytes(cut, pgrp, len);
    free(pgrp);
    r = t_pgolf("import %s --log %s --out %s", cut, rec_file("train_seed7.log"), out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "PGRP") != NULL, "%s", r.err);
    r = t_pgolf("import %s --out %s", rec_file("bad_range.pt"), out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "blocks.0.attn.attn_gate_w.gq holds -128 at 6, outside "
                                        "its range [-127, 127]"));
    /* without the dump, the lanes' start is unknown */
    r = t_pgolf("import %s --out %s", rec_file("final_model.int6.ptz"), out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "PARALLEL_START_LAYER is 0"));
    /* a constant pgolf's model does not compute, named */
    char *log = t_read_text(rec_file("train_seed7.log"));
    char *at = strstr(log, "rope_yarn: False");
    ck_assert_ptr_nonnull(at);
    memcpy(at + 11, "True ", 5);
    const char *bad_log = t_tmp_path("yarn.log");
    t_write_bytes(bad_log, log, strlen(log));
    free(log);
    r = t_pgolf("import %s --log %s --out %s", rec_file("final_model.int6.ptz"), bad_log, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "rope_yarn: True is a constant pgolf's model does not compute"));
    /* a setting that contradicts the tensors */
    r = t_pgolf("import %s --log %s --set SMEAR_GATE_ENABLED=0 --out %s",
                rec_file("final_model.int6.ptz"), rec_file("train_seed7.log"), out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "SMEAR_GATE_ENABLED=0 was given but the file has"));
}
END_TEST

/* verify --rerun on a records folder, its diagnostic and its phased TTT line (re-run
 * with the dump's TTT settings): PASS at the logged number, FAIL far from it, and
 * undecided within the float32-vs-bfloat16 gap. */
START_TEST(records_artifact_verify)
{
    json_t *exp = t_load_json(rec_file("expected.json"));
    double loss = json_real_value(json_object_get(exp, "val_loss"));
    double bpb = json_real_value(json_object_get(exp, "val_bpb"));
    double ttt_loss = json_real_value(json_object_get(exp, "ttt_val_loss"));
    double ttt_bpb = json_real_value(json_object_get(exp, "ttt_val_bpb"));
    json_decref(exp);
    const double shift[] = {0, 0.01, 1e-4};
    const char *want[] = {"PASS", "FAIL", "UNKNOWN"};
    char *dump = t_read_text(rec_file("train_seed7.log"));
    *strstr(dump, "diagnostic quantized") = 0; /* the hyperparameters alone */
    for (int k = 0; k < 3; k++) {
        char dir[64], cmd[1200], path[600];
        snprintf(dir, sizeof dir, "recfam%d", k);
        const char *d = t_tmp_path(dir);
        snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s %s/", d, rec_file("final_model.int6.ptz"), d);
        ck_assert_int_eq(system(cmd), 0);
        char *text = malloc(strlen(dump) + 512);
        sprintf(text, "%sdiagnostic quantized val_loss:%.8f val_bpb:%.8f eval_time:1000ms\n"
                "quantized_ttt_phased val_loss:%.8f val_bpb:%.8f eval_time:2000ms\n",
                dump, loss, bpb + shift[k], ttt_loss, ttt_bpb + shift[k]);
        snprintf(path, sizeof path, "%s/train_seed7.log", d);
        t_write_bytes(path, text, strlen(text));
        free(text);
        t_run_result r = t_pgolf("verify %s --rerun --data %s --tokenizer %s --json", d,
                                 t_repo_path("data/sample"),
                                 t_repo_path("data/sample/sample_1024_bpe.model"));
        json_t *v = json_loads(r.out, 0, NULL);
        ck_assert_msg(v != NULL, "%s", r.err);
        int found = 0, found_ttt = 0;
        size_t i;
        json_t *chk;
        json_array_foreach(json_object_get(v, "checks"), i, chk)
        {
            const char *name = json_string_value(json_object_get(chk, "name"));
            if (name && strcmp(name, "rerun.final_model.int6.ptz") == 0) {
                found = 1;
                ck_assert_str_eq(json_string_value(json_object_get(chk, "status")), want[k]);
                ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(chk, "evidence")),
                                             "re-scored as the records' diagnostic (documents, "
                                             "seq 64, 2 per packed row, 1 rank)"));
            }
            if (name && strcmp(name, "rerun.final_model.int6.ptz.ttt") == 0) {
                found_ttt = 1;
                const char *ev = json_string_value(json_object_get(chk, "evidence"));
                ck_assert_msg(strcmp(json_string_value(json_object_get(chk, "status")), want[k]) == 0,
                              "ttt %s: %s", want[k], ev);
                ck_assert_ptr_nonnull(strstr(ev, "phased TTT (rank 4, chunk 32, 1 phase on 4 "
                                                 "documents, 1 rank in pgolf's canonical schedule"));
                ck_assert_ptr_nonnull(strstr(ev, "tolerance: "));
            }
            if (name && (strcmp(name, "rerun.final_model.int6.ptz.ttt.causality") == 0 ||
                         strcmp(name, "rerun.final_model.int6.ptz.ttt.order") == 0)) {
                found_ttt++; /* the re-scored TTT's legality, whatever the claim */
                ck_assert_str_eq(json_string_value(json_object_get(chk, "status")), "PASS");
            }
        }
        ck_assert_msg(found && found_ttt == 3, "no rerun or audit check in %s", r.out);
        json_decref(v);
    }
    free(dump);
}
END_TEST

Suite *suite_torch(void)
{
    Suite *s = suite_create("torch");
    TCase *tc = tcase_create("torch");
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, golden_files_match_torch);
    tcase_add_test(tc, export_import_round_trip);
    tcase_add_test(tc, zstd_wrapper);
    tcase_add_test(tc, cli_import_eval_export);
    tcase_add_test(tc, log_and_set_hints);
    tcase_add_test(tc, verify_rerun_torch_artifact);
    tcase_add_test(tc, records_artifact_read);
    tcase_add_test(tc, records_artifact_errors);
    tcase_add_test(tc, records_artifact_verify);
    tcase_add_test(tc, hostile_pickles);
    tcase_add_test(tc, hostile_wrappers);
    tcase_add_test(tc, unknown_and_missing_tensors);
    tcase_add_test(tc, nonfinite_weights_refused);
    suite_add_tcase(s, tc);
    return s;
}
