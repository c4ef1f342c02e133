/* Evaluation: the BPB formula on a hand-checkable case, window coverage of both modes,
 * sliding-window context, and the eval CLI. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "kernels/checkpoint.h"
#include "dataset/shard.h"
#include "kernels/eval.h"
#include "tests/util.h"

/* An 8-piece vocabulary:
 *   0 <pad> 1 <s> 2 </s> (control)   3 <unk> (unknown)
 *   4 "▁a" (1 byte + space)   5 "bc" (2 bytes)   6 <0x41> (byte, 1)   7 "▁" (0 + space) */
static void tiny_tokenizer(pg_tokenizer *tok)
{
    static const char *pieces[] = {"<pad>", "<s>", "</s>", "<unk>",
                                   "\342\226\201a", "bc", "<0x41>", "\xe2\x96\x81"};
    static const uint8_t types[] = {3, 3, 3, 2, 1, 1, 6, 1};
    memset(tok, 0, sizeof *tok);
    tok->vocab_size = 8;
    tok->pieces = (char **)pieces;
    tok->types = (uint8_t *)types;
}

START_TEST(test_lut_by_hand)
{
    pg_tokenizer tok;
    pg_bpb_lut lut;
    tiny_tokenizer(&tok);
    ck_assert_int_eq(pg_bpb_lut_build(&tok, 8, &lut), 0);
    const int16_t base[] = {0, 0, 0, 0, 1, 2, 1, 0};
    const uint8_t space[] = {0, 0, 0, 0, 1, 0, 0, 1}, bound[] = {1, 1, 1, 1, 0, 0, 0, 0};
    ck_assert_mem_eq(lut.base_bytes, base, sizeof base);
    ck_assert_mem_eq(lut.has_leading_space, space, sizeof space);
    ck_assert_mem_eq(lut.is_boundary, bound, sizeof bound);
    /* "▁a" after BOS: the space is not counted; after "bc" it is */
    ck_assert_int_eq(pg_bpb_token_bytes(&lut, 1, 4), 1);
    ck_assert_int_eq(pg_bpb_token_bytes(&lut, 5, 4), 2);
    ck_assert_int_eq(pg_bpb_token_bytes(&lut, 6, 7), 1);
    ck_assert_int_eq(pg_bpb_token_bytes(&lut, 4, 6), 1);
    pg_bpb_lut_free(&lut);
}
END_TEST

/* A model whose embedding is all zero predicts the uniform distribution at every
 * position (rms_norm(0) = 0, logits 0), so each token costs exactly ln V nats. */
static void uniform_model(pg_model *m, int vocab, int seq_len)
{
    pg_model_config c = pg_config_tiny();
    c.vocab_size = vocab;
    c.num_layers = 2;
    c.model_dim = 8;
    c.num_heads = 2;
    c.num_kv_heads = 1;
    c.seq_len = seq_len;
    ck_assert_int_eq(pg_model_create(m, &c), 0);
    pg_model_init(m, 1, PG_INIT_DENSE);
    memset(m->w.tok_emb, 0, (size_t)vocab * c.model_dim * sizeof(float));
}

START_TEST(test_bpb_by_hand)
{
    pg_tokenizer tok;
    pg_bpb_lut lut;
    tiny_tokenizer(&tok);
    ck_assert_int_eq(pg_bpb_lut_build(&tok, 8, &lut), 0);
    pg_model m;
    uniform_model(&m, 8, 4);
    /* stream "<s> ▁a bc <0x41> ▁ ▁a <s> ▁a bc" (9 tokens, seq_len 4: 8 targets, all kept).
     * target bytes: ▁a after <s> 1, bc 2, <0x41> 1, ▁ after byte 1, ▁a after ▁ 2,
     * <s> 0, ▁a after <s> 1, bc 2  -> 10 bytes. */
    const uint16_t s[] = {1, 4, 5, 6, 7, 4, 1, 4, 5};
    pg_eval_opts o = {.mode = PG_EVAL_STANDARD, .seq_len = 4, .batch = 2};
    pg_eval_result r;
    ck_assert_int_eq(pg_eval_run(&m, s, 9, &lut, &o, &r, NULL), 0);
    ck_assert_double_eq(r.tokens, 8);
    ck_assert_double_eq(r.bytes, 10);
    ck_assert_double_eq_tol(r.val_loss, log(8.0), 1e-12);
    /* 3 bits per token, 8 tokens over 10 bytes */
    ck_assert_double_eq_tol(r.val_bpb, 3.0 * 8 / 10, 1e-12);
    ck_assert_double_eq_tol(pg_bpb(r.loss_sum, r.tokens, r.bytes), 2.4, 1e-12);
    /* a stream of 10 tokens at seq_len 4 is truncated to 9: the same 8 targets */
    const uint16_t s10[] = {1, 4, 5, 6, 7, 4, 1, 4, 5, 6};
    ck_assert_int_eq(pg_eval_run(&m, s10, 10, &lut, &o, &r, NULL), 0);
    ck_assert_double_eq(r.tokens, 8);
    /* too short for one window */
    ck_assert_int_eq(pg_eval_run(&m, s, 4, &lut, &o, &r, NULL), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "too short"));
    pg_bpb_lut_free(&lut);
    pg_model_free(&m);
}
END_TEST

START_TEST(test_window_coverage)
{
    const size_t totals[] = {1, 7, 64, 100, 1024, 1031};
    const int lens[] = {1, 8, 64}, strides[] = {1, 3, 8, 64};
    for (size_t ti = 0; ti < 6; ti++)
        for (int li = 0; li < 3; li++)
            for (int si = 0; si < 5; si++) {
                pg_eval_opts o = {.mode = si == 4 ? PG_EVAL_STANDARD : PG_EVAL_SLIDING,
                                  .seq_len = lens[li], .stride = si < 4 ? strides[si] : 0};
                if (o.mode == PG_EVAL_SLIDING && o.stride > o.seq_len)
                    continue;
                pg_eval_window *w;
                size_t n;
                ck_assert_int_eq(pg_eval_windows(&o, totals[ti], &w, &n), 0);
                char *seen = calloc(totals[ti], 1);
                for (size_t k = 0; k < n; k++) {
                    ck_assert_int_le(w[k].len, o.seq_len);
                    ck_assert_uint_le(w[k].start + (size_t)w[k].len, totals[ti]);
                    for (int j = w[k].score_from; j < w[k].len; j++)
                        seen[w[k].start + (size_t)j]++;
                    /* a sliding window scores at most stride targets, with full
                     * context (seq_len - stride before them) once it can */
                    if (o.mode == PG_EVAL_SLIDING && k > 0) {
                        ck_assert_int_le(w[k].len - w[k].score_from, o.stride);
                        ck_assert_int_eq(w[k].score_from, o.seq_len - o.stride);
                    }
                }
                for (size_t p = 0; p < totals[ti]; p++)
                    ck_assert_msg(seen[p] == 1, "total %zu L %d s %d: target %zu scored %d times",
                                  totals[ti], o.seq_len, o.stride, p, seen[p]);
                free(seen);
                free(w);
            }
    pg_eval_opts bad = {.mode = PG_EVAL_SLIDING, .seq_len = 8, .stride = 9};
    pg_eval_window *w;
    size_t n;
    ck_assert_int_eq(pg_eval_windows(&bad, 100, &w, &n), -1);
}
END_TEST

/* Sliding eval of a real (dense) model: each target's loss equals a direct forward
 * over the window that ends at it, and stride = seq_len reproduces standard eval. */
START_TEST(test_sliding_matches_direct_forward)
{
    pg_model_config c = pg_config_tiny();
    c.num_layers = 3;
    c.seq_len = 16;
    c.tied_embed_init_std = 0.3f;
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &c), 0);
    pg_model_init(&m, 3, PG_INIT_DENSE);
    pg_tokenizer tok;
    pg_bpb_lut lut;
    ck_assert_int_eq(pg_tokenizer_load(t_repo_path("data/sample/sample_1024_bpe.model"), &tok), 0);
    ck_assert_int_eq(pg_bpb_lut_build(&tok, 1024, &lut), 0);
    uint16_t *val;
    size_t n;
    ck_assert_int_eq(pg_shards_load(t_repo_path("data/sample"), "val", 1024, &val, &n), 0);
    n = 16 * 6 + 1;
    size_t total = pg_eval_total_targets(n, 16);
    double *slide = calloc(total, sizeof *slide), *std = calloc(total, sizeof *std);
    pg_eval_opts o = {.mode = PG_EVAL_SLIDING, .seq_len = 16, .stride = 4, .batch = 3};
    pg_eval_result rs, rstd, rfull;
    ck_assert_int_eq(pg_eval_run(&m, val, n, &lut, &o, &rs, slide), 0);
    o.mode = PG_EVAL_STANDARD;
    ck_assert_int_eq(pg_eval_run(&m, val, n, &lut, &o, &rstd, std), 0);
    o.mode = PG_EVAL_SLIDING;
    o.stride = 16;
    ck_assert_int_eq(pg_eval_run(&m, val, n, &lut, &o, &rfull, NULL), 0);
    ck_assert(rfull.loss_sum == rstd.loss_sum && rfull.bytes == rstd.bytes);
    ck_assert(rs.tokens == rstd.tokens && rs.bytes == rstd.bytes);
    /* first window identical; later targets see more context, so losses differ */
    ck_assert_mem_eq(slide, std, 16 * sizeof(double));
    ck_assert(memcmp(slide + 16, std + 16, 16 * sizeof(double)) != 0);
    /* every scored target of a few windows, recomputed by a plain forward pass */
    pg_acts a;
    ck_assert_int_eq(pg_acts_create(&a, &m, 1, 16, 0), 0);
    pg_eval_window *w;
    size_t nw;
    o.stride = 4;
    ck_assert_int_eq(pg_eval_windows(&o, total, &w, &nw), 0);
    const size_t probes[] = {1, 2, 7, nw - 1};
    int ids[16], tgt[16];
    for (size_t k = 0; k < 4; k++) {
        const pg_eval_window *wk = &w[probes[k]];
        for (int j = 0; j < wk->len; j++) {
            ids[j] = val[wk->start + (size_t)j];
            tgt[j] = val[wk->start + (size_t)j + 1];
        }
        ck_assert_int_eq(pg_acts_set_shape(&a, 1, wk->len), 0);
        pg_model_forward(&m, &a, ids, tgt);
        for (int j = wk->score_from; j < wk->len; j++)
            ck_assert_msg(a.losses[j] == slide[wk->start + (size_t)j], "window %zu pos %d",
                          probes[k], j);
    }
    free(w);
    pg_acts_free(&a);
    free(slide);
    free(std);
    free(val);
    pg_bpb_lut_free(&lut);
    pg_tokenizer_free(&tok);
    pg_model_free(&m);
}
END_TEST

/* The records' document pieces: BOS starts a document, long ones are cut every max_len. */
START_TEST(test_doc_spans)
{
    const int ids[] = {1, 5, 6, 1, 7, 8, 9, 9, 9, 9, 9, 1, 4};
    int span[13];
    pg_doc_spans(ids, 13, 1, 3, span);
    const int want[] = {0, 0, 0, 3, 3, 3, 6, 6, 6, 9, 9, 11, 11};
    ck_assert_mem_eq(span, want, sizeof want);
    const int nobos[] = {4, 4, 4, 4, 4};
    pg_doc_spans(nobos, 5, 1, 2, span);
    const int want2[] = {0, 0, 2, 2, 4};
    ck_assert_mem_eq(span, want2, sizeof want2);
}
END_TEST

/* Documents mode: every target once, and each loss as if its document piece were scored
 * alone (positions differ, so to float32 rounding). */
START_TEST(test_documents_eval)
{
    pg_model_config c = pg_config_tiny();
    c.num_layers = 3;
    c.seq_len = 16;
    c.tied_embed_init_std = 0.3f;
    c.xsa_last_n = 2;
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &c), 0);
    pg_model_init(&m, 4, PG_INIT_DENSE);
    pg_tokenizer tok;
    pg_bpb_lut lut;
    ck_assert_int_eq(pg_tokenizer_load(t_repo_path("data/sample/sample_1024_bpe.model"), &tok), 0);
    ck_assert_int_eq(pg_bpb_lut_build(&tok, 1024, &lut), 0);
    uint16_t val[16 * 6 + 1];
    for (int i = 0; i < 16 * 6 + 1; i++) /* documents of 5, 11, 30 (two pieces) and the rest */
        val[i] = (uint16_t)(i == 0 || i == 5 || i == 16 || i == 46 ? 1 : 100 + (i * 37) % 800);
    size_t n = 16 * 6 + 1, total = pg_eval_total_targets(n, 16);
    double *docs = calloc(total, sizeof *docs), *std = calloc(total, sizeof *std);
    pg_eval_opts o = {.mode = PG_EVAL_DOCUMENTS, .seq_len = 16, .pack = 4, .batch = 1};
    pg_eval_result rd, rs;
    ck_assert_int_eq(pg_eval_run(&m, val, n, &lut, &o, &rd, docs), 0);
    o.mode = PG_EVAL_STANDARD;
    ck_assert_int_eq(pg_eval_run(&m, val, n, &lut, &o, &rs, std), 0);
    ck_assert(rd.tokens == rs.tokens && rd.bytes == rs.bytes && rd.windows == 2);
    /* each piece alone */
    int ids[64], tgt[64], span[64], in_row[64];
    for (size_t w = 0; w < total; w += 64) {
        int len = (int)(total - w < 64 ? total - w : 64);
        for (int j = 0; j < len; j++)
            in_row[j] = val[w + (size_t)j];
        pg_doc_spans(in_row, len, 1, 16, span);
        for (int s0 = 0; s0 < len;) {
            int e = s0;
            while (e < len && span[e] == s0)
                e++;
            pg_acts a;
            ck_assert_int_eq(pg_acts_create(&a, &m, 1, e - s0, 0), 0);
            for (int j = s0; j < e; j++) {
                ids[j - s0] = val[w + (size_t)j];
                tgt[j - s0] = val[w + (size_t)j + 1];
            }
            pg_model_forward(&m, &a, ids, tgt);
            for (int j = s0; j < e; j++)
                ck_assert_msg(fabs(a.losses[j - s0] - docs[w + (size_t)j]) <= 1e-5 * a.losses[j - s0],
                              "target %zu: alone %.9g, packed %.9g", w + (size_t)j,
                              a.losses[j - s0], docs[w + (size_t)j]);
            pg_acts_free(&a);
            s0 = e;
        }
    }
    /* the first document's losses are the standard mode's (nothing before it) */
    ck_assert_mem_eq(docs, std, 5 * sizeof(double));
    free(docs);
    free(std);
    pg_bpb_lut_free(&lut);
    pg_tokenizer_free(&tok);
    pg_model_free(&m);
}
END_TEST

/* The SmearGate BOS leak, caught by measurement: documents mode keeps every other
 * document's losses bit-identical with the BOS mask, not without it; the standard mode
 * never does (its attention crosses documents). */
START_TEST(test_document_audit)
{
    const char *data = t_repo_path("data/sample");
    const char *tok = t_repo_path("data/sample/sample_1024_bpe.model");
    for (int mask = 1; mask >= 0; mask--) {
        const char *ckpt = t_tmp_path(mask ? "smear_mask.ckpt" : "smear_leak.ckpt");
        t_run_result r = t_pgolf("init --preset tiny --set SMEAR_GATE_ENABLED=1 "
                                 "--set SMEAR_GATE_BOS_MASK=%d --set XSA_LAST_N=4 --init dense "
                                 "--seed 3 --out '%s'", mask, ckpt);
        ck_assert_msg(r.status == 0, "%s", r.err);
        r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --mode documents --pack 2 "
                    "--audit-documents --quiet", ckpt, data, tok);
        if (mask) {
            ck_assert_msg(r.status == 0, "%s", r.err);
            ck_assert_ptr_nonnull(strstr(r.out, "document_audit PASS mode:documents"));
        } else {
            ck_assert_int_eq(r.status, 1);
            ck_assert_ptr_nonnull(strstr(r.out, "document_audit FAIL mode:documents"));
            /* the next document's BOS took the altered last token */
            ck_assert_ptr_nonnull(strstr(r.err, "target 7937 changed"));
        }
        r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --audit-documents --quiet --json",
                    ckpt, data, tok);
        ck_assert_int_eq(r.status, 1);
        json_t *j = json_loads(r.out, 0, NULL);
        ck_assert_ptr_nonnull(j);
        ck_assert(json_is_false(json_object_get(json_object_get(j, "documents"), "independent")));
        ck_assert(json_is_true(json_object_get(json_object_get(j, "documents"), "changed_inside")));
        json_decref(j);
    }
    t_run_result r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --mode documents --ttt",
                             t_tmp_path("smear_mask.ckpt"), data, tok);
    ck_assert_int_eq(r.status, 2);
}
END_TEST

/* The records' CaseOps byte sidecar: BPB counts its bytes, not the tokenizer's; a
 * sidecar of another length is refused; the sidecar is never read as val tokens. */
START_TEST(test_byte_sidecar)
{
    const char *ckpt = t_tmp_path("sidecar.ckpt");
    t_run_result r = t_pgolf("init --preset tiny --seed 3 --out '%s'", ckpt);
    ck_assert_msg(r.status == 0, "%s", r.err);
    uint16_t *val;
    size_t n;
    ck_assert_int_eq(pg_shards_load(t_repo_path("data/sample"), "val", 1024, &val, &n), 0);
    const char *dir = t_tmp_path("sidecar_data");
    char path[600];
    snprintf(path, sizeof path, "mkdir -p '%s'", dir);
    ck_assert_int_eq(system(path), 0);
    snprintf(path, sizeof path, "%s/fineweb_val_000000.bin", dir);
    ck_assert_int_eq(pg_shard_write(path, val, n), 0);
    uint16_t *bytes = malloc(n * sizeof *bytes);
    for (size_t i = 0; i < n; i++)
        bytes[i] = (uint16_t)(val[i] == 1 ? 0 : 1 + i % 3); /* BOS counts 0, as CaseOps' */
    snprintf(path, sizeof path, "%s/fineweb_val_bytes_000000.bin", dir);
    ck_assert_int_eq(pg_shard_write(path, bytes, n), 0);
    const char *tok = t_repo_path("data/sample/sample_1024_bpe.model");
    r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --json --quiet", ckpt, dir, tok);
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    size_t total = pg_eval_total_targets(n, 64);
    double want = 0;
    for (size_t p = 0; p < total; p++)
        want += bytes[p + 1];
    ck_assert_str_eq(json_string_value(json_object_get(j, "byte_counts")), "sidecar");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "tokens")), (json_int_t)total);
    ck_assert(json_integer_value(json_object_get(j, "bytes")) == (json_int_t)want);
    double loss = json_real_value(json_object_get(j, "val_loss"));
    ck_assert_double_eq_tol(json_real_value(json_object_get(j, "val_bpb")),
                            loss / log(2.0) * (double)total / want, 1e-12);
    json_decref(j);
    /* one count short */
    ck_assert_int_eq(pg_shard_write(path, bytes, n - 1), 0);
    r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --quiet", ckpt, dir, tok);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "byte sidecar (fineweb_val_bytes_*.bin) holds"));
    free(bytes);
    free(val);
}
END_TEST

START_TEST(test_eval_cli)
{
    const char *ckpt = t_tmp_path("eval.ckpt");
    t_run_result r = t_pgolf("init --preset tiny --seed 3 --out '%s'", ckpt);
    ck_assert_msg(r.status == 0, "%s", r.err);
    const char *data = t_repo_path("data/sample");
    const char *tok = t_repo_path("data/sample/sample_1024_bpe.model");
    r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --json", ckpt, data, tok);
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    ck_assert_ptr_nonnull(j);
    double loss = json_real_value(json_object_get(j, "val_loss"));
    double bpb = json_real_value(json_object_get(j, "val_bpb"));
    double toks = (double)json_integer_value(json_object_get(j, "tokens"));
    double bytes = (double)json_integer_value(json_object_get(j, "bytes"));
    /* an untrained model sits near the uniform ln(1024) */
    ck_assert_double_eq_tol(loss, log(1024.0), 0.05);
    ck_assert_double_eq_tol(bpb, loss / log(2.0) * toks / bytes, 1e-12);
    ck_assert_ptr_nonnull(strstr(r.err, "windows/s")); /* progress line */
    json_decref(j);
    r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --mode sliding --stride 32 --quiet", ckpt,
                data, tok);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "final_sliding_window_exact val_loss:"));
    ck_assert_str_eq(r.err, "");
    /* bad inputs */
    r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --mode sliding --stride 65 --quiet", ckpt,
                data, tok);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "stride 65"));
    r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --mode bogus", ckpt, data, tok);
    ck_assert_int_eq(r.status, 2);
    r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s'", ckpt, t_tmpdir(), tok);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "no shard files") != NULL, "%s", r.err);
    r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --seq-len 100000 --quiet", ckpt, data,
                tok);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "too short"));
    const char *sp8192 = t_shared_path("fineweb_8192_bpe.model");
    if (sp8192) {
        r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s'", ckpt, data, sp8192);
        ck_assert_int_eq(r.status, 1);
        ck_assert_ptr_nonnull(strstr(r.err, "larger than the checkpoint's vocab"));
    }
}
END_TEST

Suite *suite_eval(void)
{
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("eval");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_lut_by_hand);
    tcase_add_test(tc, test_bpb_by_hand);
    tcase_add_test(tc, test_window_coverage);
    tcase_add_test(tc, test_sliding_matches_direct_forward);
    tcase_add_test(tc, test_eval_cli);
    tcase_add_test(tc, test_doc_spans);
    tcase_add_test(tc, test_byte_sidecar);
    tcase_add_test(tc, test_documents_eval);
    tcase_add_test(tc, test_document_audit);
    suite_add_tcase(s, tc);
    return s;
}
