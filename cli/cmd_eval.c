/* pgolf eval: val_loss and val_bpb of a checkpoint on the validation shards, optionally
 * with legal score-first TTT, and audits of the chosen mode by measurement: causality,
 * and document independence. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/decode_limit.h"
#include "common/err.h"
#include "common/parse.h"
#include "kernels/checkpoint.h"
#include "cli/commands.h"
#include "dataset/shard.h"
#include "dataset/val.h"
#include "verifier/audit.h"
#include "kernels/eval.h"
#include "kernels/ttt.h"
#include "packager/torchimport.h"

#define MAX_SETS 32

typedef struct {
    const pg_model *m;
    const pg_bpb_lut *lut;
    pg_eval_opts eo;
    const pg_ttt_opts *ttt; /* NULL: no TTT */
} scorer_ctx;

/* Per-token losses of the mode; TTT adapts a fresh copy so every call starts the same. */
static int score(void *vctx, const uint16_t *stream, size_t n, double *per_token)
{
    scorer_ctx *c = vctx;
    pg_eval_result r;
    if (!c->ttt)
        return pg_eval_run(c->m, stream, n, c->lut, &c->eo, &r, per_token);
    pg_model copy;
    if (pg_model_clone(&copy, c->m) != 0)
        return -1;
    int rc = pg_ttt_run(&copy, stream, n, c->lut, &c->eo, c->ttt, &r, per_token);
    pg_model_free(&copy);
    return rc;
}

/* The same with each target's place in the evaluation's order: the records' TTT's
 * schedule, the stream's order for every other evaluation. */
static int score_ordered(void *vctx, const uint16_t *stream, size_t n, double *per_token,
                         uint64_t *order)
{
    scorer_ctx *c = vctx;
    if (c->ttt && c->ttt->optimizer == PG_TTT_PHASED) {
        pg_model copy;
        pg_eval_result r;
        if (pg_model_clone(&copy, c->m) != 0)
            return -1;
        int rc = pg_ttt_phased_run(&copy, stream, n, c->lut, &c->eo, c->ttt, &r, per_token, order);
        pg_model_free(&copy);
        return rc;
    }
    if (score(vctx, stream, n, per_token) != 0)
        return -1;
    size_t total = pg_eval_total_targets(n, c->eo.seq_len);
    for (size_t i = 0; i < total; i++)
        order[i] = i;
    return 0;
}

static json_t *order_json(const pg_order_audit_result *r)
{
    return json_pack("{s:I, s:I, s:I, s:b, s:o, s:I, s:I, s:b}", "altered_start",
                     (json_int_t)r->alt_start, "altered_end", (json_int_t)r->alt_end,
                     "protected_targets", (json_int_t)r->protected_targets, "identical",
                     r->first_diff < 0, "first_diff",
                     r->first_diff < 0 ? json_null() : json_integer(r->first_diff),
                     "later_changed", (json_int_t)r->later_changed, "later_documents",
                     (json_int_t)r->later_docs, "changed_inside", r->changed_inside);
}

/* The future-perturbation audit of an evaluation in its own order (the records' TTT). */
static int audit_future(scorer_ctx *sc, const uint16_t *val, size_t nval, size_t total,
                        size_t pos, const char *mode, int as_json, json_t *out, int *ok)
{
    pg_order_audit_result ar;
    if (pg_audit_future(score_ordered, sc, val, nval, total, sc->m->cfg.vocab_size,
                        sc->m->cfg.bos_id, pos, &ar) != 0)
        return -1;
    *ok = *ok && json_object_set_new(out, "causality", order_json(&ar)) == 0;
    if (!as_json && ar.first_diff < 0)
        printf("causality_audit PASS mode:%s at:%zu: altering the rest of its document "
               "(%zu..%zu) left the %zu targets scored before it could be seen bit-identical\n",
               mode, pos, ar.alt_start, ar.alt_end - 1, ar.protected_targets);
    if (ar.first_diff < 0)
        return 0;
    if (!as_json)
        printf("causality_audit FAIL mode:%s at:%zu: target %ld changed (%.17g -> %.17g)\n", mode,
               pos, ar.first_diff, ar.before, ar.after);
    if (as_json && *ok)
        pg_cli_print_json(json_incref(out));
    return pg_fail("causality audit failed: the loss of target %ld, scored before the tokens "
                   "after %zu in its document could be seen, changed", ar.first_diff, pos);
}

/* The document-order audit: documents scored before an altered one keep their losses. */
static int audit_order(scorer_ctx *sc, const uint16_t *val, size_t nval, size_t total,
                       size_t pos, const char *mode, int as_json, json_t *out, int *ok)
{
    pg_order_audit_result dr;
    if (pg_audit_order(score_ordered, sc, val, nval, total, sc->m->cfg.vocab_size,
                       sc->m->cfg.bos_id, pos, &dr) != 0)
        return -1;
    *ok = *ok && json_object_set_new(out, "document_order", order_json(&dr)) == 0;
    if (!as_json && dr.first_diff < 0)
        printf("order_audit PASS mode:%s: altering the document at %zu..%zu left the %zu targets "
               "scored no later than it bit-identical; %zu targets scored later in %zu documents "
               "changed (a dependence on earlier documents, allowed)\n",
               mode, dr.alt_start - 1, dr.alt_end - 1, dr.protected_targets, dr.later_changed,
               dr.later_docs);
    if (dr.first_diff < 0)
        return 0;
    if (!as_json)
        printf("order_audit FAIL mode:%s: altering the document at %zu..%zu changed target %ld, "
               "scored no later than it (%.17g -> %.17g)\n",
               mode, dr.alt_start - 1, dr.alt_end - 1, dr.first_diff, dr.before, dr.after);
    if (as_json && *ok)
        pg_cli_print_json(json_incref(out));
    return pg_fail("document order audit failed: target %ld changed though it was scored before "
                   "the altered document at %zu..%zu", dr.first_diff, dr.alt_start - 1,
                   dr.alt_end - 1);
}

static json_t *result_json(const pg_eval_result *r)
{
    return json_pack("{s:f, s:f, s:I, s:I, s:f, s:I}", "val_loss", r->val_loss, "val_bpb",
                     r->val_bpb, "tokens", (json_int_t)r->tokens, "bytes", (json_int_t)r->bytes,
                     "loss_sum", r->loss_sum, "windows", (json_int_t)r->windows);
}

static int set_ttt(void *tt, const char *name, const char *value)
{
    return pg_ttt_set(tt, name, value);
}

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"tokenizer", required_argument, 0, 't'},
                                         {"mode", required_argument, 0, 'm'},
                                         {"stride", required_argument, 0, 's'},
                                         {"seq-len", required_argument, 0, 'l'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"ttt", no_argument, 0, 'T'},
                                         {"ttt-set", required_argument, 0, 'S'},
                                         {"audit-causality", no_argument, 0, 'A'},
                                         {"audit-documents", no_argument, 0, 'D'},
                                         {"audit-order", no_argument, 0, 'O'},
                                         {"pack", required_argument, 0, 'P'},
                                         {"ranks", required_argument, 0, 'R'},
                                         {"precision", required_argument, 0, 'Q'},
                                         {"at", required_argument, 0, 'a'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"tag", required_argument, 0, 'g'},
                                         {"set", required_argument, 0, 'M'},
                                         {"log", required_argument, 0, 'L'},
                                         PG_CLI_DECODE_LIMIT_OPTION,
                                         PG_CLI_BACKEND_OPTION,
                                         {0, 0, 0, 0}};
    pg_cli_warn_env_settings(stderr);
    const char *data = NULL, *tok_path = NULL, *sets[MAX_SETS], *tag_name = NULL;
    const char *backend = NULL;
    const char *model_sets[MAX_SETS];
    pg_import_hints hints = {.sets = model_sets};
    long stride = 64, seq_len = 0, batch = 4, at = 0, pack = 1, ranks = 0;
    int as_json = 0, quiet = 0, use_ttt = 0, audit = 0, audit_docs = 0, audit_ord = 0, nsets = 0;
    int mode_given = 0;
    int stride_given = 0, c;
    pg_eval_opts o = {.mode = PG_EVAL_STANDARD};
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        int bad = 0;
        switch (c) {
        case 'd': data = optarg; break;
        case 't': tok_path = optarg; break;
        case 'm':
            mode_given = 1;
            if (strcmp(optarg, "standard") == 0)
                o.mode = PG_EVAL_STANDARD;
            else if (strcmp(optarg, "sliding") == 0)
                o.mode = PG_EVAL_SLIDING;
            else if (strcmp(optarg, "documents") == 0)
                o.mode = PG_EVAL_DOCUMENTS;
            else
                return pg_cli_usage_error("eval", "--mode must be standard, sliding or documents");
            break;
        case 's':
            stride_given = 1;
            bad = pg_parse_long(optarg, "--stride", 1, 1 << 20, &stride);
            break;
        case 'l': bad = pg_parse_long(optarg, "--seq-len", 1, 1 << 20, &seq_len); break;
        case 'b': bad = pg_parse_long(optarg, "--batch", 1, 1024, &batch); break;
        case 'T': use_ttt = 1; break;
        case 'S':
            if (nsets == MAX_SETS)
                return pg_cli_usage_error("eval", "too many --ttt-set flags");
            sets[nsets++] = optarg;
            break;
        case 'A': audit = 1; break;
        case 'D': audit_docs = 1; break;
        case 'O': audit_ord = 1; break;
        case 'P': bad = pg_parse_long(optarg, "--pack", 1, 4096, &pack); break;
        case 'R': bad = pg_parse_long(optarg, "--ranks", 1, 4096, &ranks); break;
        case 'Q':
            if (strcmp(optarg, "fp32") != 0 && strcmp(optarg, "bf16") != 0)
                return pg_cli_usage_error("eval", "--precision must be fp32 or bf16");
            o.bf16 = strcmp(optarg, "bf16") == 0;
            break;
        case 'X': bad = pg_decode_limit_set(optarg); break;
        case 'a': bad = pg_parse_long(optarg, "--at", 1, 0x7fffffffL, &at); break;
        case 'j': as_json = 1; break;
        case 'q': quiet = 1; break;
        case 'g': tag_name = optarg; break;
        case 'M':
            if (hints.nsets == MAX_SETS)
                return pg_cli_usage_error("eval", "too many --set flags");
            model_sets[hints.nsets++] = optarg;
            break;
        case 'L': hints.log_path = optarg; break;
        case 'K': backend = optarg; break;
        default: return pg_cli_usage_error("eval", "bad option");
        }
        if (bad)
            return pg_cli_error();
    }
    if (optind + 1 != argc || !data || !tok_path)
        return pg_cli_usage_error("eval", "needs MODEL, --data DIR and --tokenizer MODEL");
    pg_ttt_opts tt;
    pg_ttt_opts_default(&tt);
    if (pg_ttt_from_env(&tt) != 0)
        return pg_cli_error();
    int set_rc = pg_cli_apply_sets("eval", "--ttt-set", sets, nsets, set_ttt, &tt);
    if (set_rc != 0)
        return set_rc;
    /* the records' TTT scores documents in its own schedule; --mode is the eval before it */
    int phased = use_ttt && tt.optimizer == PG_TTT_PHASED;
    if (use_ttt && !mode_given && !phased)
        o.mode = PG_EVAL_SLIDING; /* the seeds' recipe scores sliding windows */
    if (use_ttt && o.bf16)
        return pg_cli_usage_error("eval", "--ttt trains in float32; --precision bf16 scores "
                                          "forwards only");
    if (use_ttt && !phased && o.mode == PG_EVAL_DOCUMENTS)
        return pg_cli_usage_error("eval", "--ttt adapts over standard or sliding windows; "
                                          "--mode documents scores without it");
    o.pack = (int)pack;
    o.ranks = (int)ranks;
    tt.progress = !quiet;
    const pg_backend *be;
    int brc = pg_cli_backend("eval", backend, &be);
    if (brc != 0)
        return brc;
    const char *ckpt = argv[optind];
    pg_model m;
    pg_tokenizer tok;
    pg_bpb_lut lut = {0};
    uint16_t *val = NULL, *sidecar = NULL;
    size_t nval = 0;
    char what[96];
    if (pg_model_file_load(ckpt, &hints, &m, NULL, what, sizeof what) != 0)
        return pg_cli_error();
    if (pg_model_to_backend(&m, be) != 0) {
        pg_model_free(&m);
        return pg_cli_error();
    }
    int rc = 1;
    json_t *out = json_object();
    int ok = out != NULL; /* the JSON output is complete */
    if (pg_tokenizer_load(tok_path, &tok) != 0) {
        pg_model_free(&m);
        json_decref(out);
        return pg_cli_error();
    }
    if (tok.vocab_size > m.cfg.vocab_size) {
        pg_fail("%s: tokenizer vocab %d is larger than the checkpoint's vocab %d", tok_path,
                tok.vocab_size, m.cfg.vocab_size);
        goto done;
    }
    if (pg_bpb_lut_build(&tok, m.cfg.vocab_size, &lut) != 0 ||
        pg_shards_load(data, "val", m.cfg.vocab_size, &val, &nval) != 0 ||
        pg_val_bytes_attach(data, nval, &lut, &sidecar) != 0)
        goto done;
    o.seq_len = seq_len ? (int)seq_len : m.cfg.seq_len;
    /* the usual stride is 64; a shorter context caps it */
    o.stride = !stride_given && stride > o.seq_len ? o.seq_len : (int)stride;
    o.batch = (int)batch;
    o.progress = !quiet;
    const char *mode = pg_eval_mode_name(o.mode);
    ok = ok && json_object_set_new(out, "model_format", json_string(what)) == 0 &&
         json_object_set_new(out, "mode", json_string(mode)) == 0 &&
         json_object_set_new(out, "seq_len", json_integer(o.seq_len)) == 0 &&
         json_object_set_new(out, "precision", json_string(o.bf16 ? "bf16" : "fp32")) == 0 &&
         json_object_set_new(out, "byte_counts",
                             json_string(sidecar ? "sidecar" : "tokenizer")) == 0 &&
         (o.mode != PG_EVAL_SLIDING ||
          json_object_set_new(out, "stride", json_integer(o.stride)) == 0) &&
         (o.mode != PG_EVAL_DOCUMENTS ||
          (json_object_set_new(out, "pack", json_integer(o.pack)) == 0 &&
           json_object_set_new(out, "bos_id", json_integer(m.cfg.bos_id)) == 0));
    pg_eval_result r;
    if (pg_eval_run(&m, val, nval, &lut, &o, &r, NULL) != 0) {
        pg_fail_prefix(data);
        goto done;
    }
    char tag[128];
    snprintf(tag, sizeof tag, "final_%.64s", tag_name                       ? tag_name
                                             : o.mode == PG_EVAL_SLIDING   ? "sliding_window"
                                             : o.mode == PG_EVAL_DOCUMENTS ? "documents"
                                                                           : "eval");
    if (!as_json) {
        printf("eval model:%s mode:%s seq_len:%d windows:%zu tokens:%.0f bytes:%.0f%s\n", what,
               mode, o.seq_len, r.windows, r.tokens, r.bytes,
               sidecar ? " (byte sidecar)" : "");
        printf("%s val_loss:%.4f val_bpb:%.4f\n", tag, r.val_loss, r.val_bpb);
        printf("%s_exact val_loss:%.8f val_bpb:%.8f\n", tag, r.val_loss, r.val_bpb);
    }
    json_t *res = result_json(&r);
    ok = ok && json_object_update(out, res) == 0;
    json_decref(res);
    if (use_ttt) {
        pg_model copy;
        pg_eval_result tr;
        o.progress = 0;
        if (pg_model_clone(&copy, &m) != 0)
            goto done;
        int trc = pg_ttt_run(&copy, val, nval, &lut, &o, &tt, &tr, NULL);
        pg_model_free(&copy);
        if (trc != 0) {
            pg_fail_prefix(data);
            goto done;
        }
        if (!as_json) {
            printf("pre_ttt val_loss:%.8f val_bpb:%.8f\n", r.val_loss, r.val_bpb);
            printf("%s val_loss:%.8f val_bpb:%.8f\n", phased ? "ttt_phased_exact" : "legal_ttt_exact",
                   tr.val_loss, tr.val_bpb);
        }
        ok = ok && json_object_set_new(out, "pre_ttt", result_json(&r)) == 0;
        ok = ok && json_object_set_new(out, "ttt", pg_ttt_report(&tt)) == 0;
        res = result_json(&tr);
        ok = ok && json_object_update(out, res) == 0; /* the headline numbers are post-TTT */
        json_decref(res);
    }
    char label[64]; /* the evaluation the audits name */
    snprintf(label, sizeof label, "%s%s", phased ? "phased-ttt" : mode,
             use_ttt && !phased ? "+ttt" : "");
    if ((audit && phased) || audit_ord) {
        size_t total = pg_eval_total_targets(nval, o.seq_len);
        size_t pos = at ? (size_t)at : total / 2;
        scorer_ctx sc = {&m, &lut, o, use_ttt ? &tt : NULL};
        sc.eo.progress = 0;
        tt.progress = 0;
        if (audit && audit_future(&sc, val, nval, total, pos, label, as_json, out, &ok) != 0)
            goto done;
        if (audit_ord && audit_order(&sc, val, nval, total, pos, label, as_json, out, &ok) != 0)
            goto done;
    }
    if (audit && !phased) {
        size_t total = pg_eval_total_targets(nval, o.seq_len);
        size_t pos = at ? (size_t)at : total / 2;
        scorer_ctx sc = {&m, &lut, o, use_ttt ? &tt : NULL};
        sc.eo.progress = 0;
        sc.ttt = use_ttt ? &tt : NULL;
        tt.progress = 0;
        pg_audit_result ar;
        if (pg_audit_causality(score, &sc, val, nval, total, m.cfg.vocab_size, pos, &ar) != 0)
            goto done;
        ok = ok && json_object_set_new(out, "causality",
                                       json_pack("{s:I, s:b, s:o, s:b}", "at", (json_int_t)ar.at,
                                                 "identical_before", ar.first_diff < 0,
                                                 "first_diff",
                                                 ar.first_diff < 0 ? json_null()
                                                                   : json_integer(ar.first_diff),
                                                 "changed_after", ar.changed_after)) == 0;
        if (!as_json) {
            if (ar.first_diff < 0)
                printf("causality_audit PASS mode:%s at:%zu: every loss of targets < %zu is "
                       "bit-identical after altering tokens > %zu\n",
                       label, ar.at, ar.at, ar.at);
            else
                printf("causality_audit FAIL mode:%s at:%zu: target %ld changed (%.17g -> "
                       "%.17g)\n",
                       label, ar.at, ar.first_diff, ar.before, ar.after);
        }
        if (ar.first_diff >= 0) {
            if (as_json && ok)
                pg_cli_print_json(json_incref(out));
            pg_fail("causality audit failed: the loss of target %ld changed when only tokens "
                    "after %zu were altered",
                    ar.first_diff, ar.at);
            goto done;
        }
    }
    if (audit_docs) {
        size_t total = pg_eval_total_targets(nval, o.seq_len);
        size_t pos = at ? (size_t)at : total / 2;
        scorer_ctx sc = {&m, &lut, o, use_ttt ? &tt : NULL};
        sc.eo.progress = 0;
        tt.progress = 0;
        pg_doc_audit_result dr;
        if (pg_audit_documents(score, &sc, val, nval, total, m.cfg.vocab_size, m.cfg.bos_id, pos,
                               &dr) != 0)
            goto done;
        ok = ok && json_object_set_new(
                       out, "documents",
                       json_pack("{s:I, s:I, s:I, s:b, s:o, s:b}", "altered_start",
                                 (json_int_t)dr.doc_start, "altered_end", (json_int_t)dr.doc_end,
                                 "documents", (json_int_t)dr.documents, "independent",
                                 dr.first_diff < 0, "first_diff",
                                 dr.first_diff < 0 ? json_null() : json_integer(dr.first_diff),
                                 "changed_inside", dr.changed_inside)) == 0;
        if (!as_json) {
            if (dr.first_diff < 0)
                printf("document_audit PASS mode:%s: altering the document at positions "
                       "%zu..%zu left every loss of the other %zu documents bit-identical\n",
                       label, dr.doc_start, dr.doc_end - 1,
                       dr.documents - 1);
            else
                printf("document_audit FAIL mode:%s: altering the document at positions "
                       "%zu..%zu changed target %ld outside it (%.17g -> %.17g)\n",
                       label, dr.doc_start, dr.doc_end - 1, dr.first_diff,
                       dr.before, dr.after);
        }
        if (dr.first_diff >= 0) {
            if (as_json && ok)
                pg_cli_print_json(json_incref(out));
            pg_fail("document audit failed: target %ld changed when only the document at "
                    "positions %zu..%zu was altered",
                    dr.first_diff, dr.doc_start, dr.doc_end - 1);
            goto done;
        }
    }
    if (as_json && !ok) {
        pg_fail("out of memory building the JSON output");
        goto done;
    }
    rc = 0;
done:
    free(val);
    free(sidecar);
    pg_bpb_lut_free(&lut);
    pg_tokenizer_free(&tok);
    pg_model_free(&m);
    if (rc == 0 && as_json)
        return pg_cli_print_json(out);
    json_decref(out);
    return rc == 0 ? 0 : pg_cli_error();
}
