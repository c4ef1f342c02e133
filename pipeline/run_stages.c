#include "pipeline/run_stages.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/progress.h"
#include "common/sha256.h"
#include "kernels/checkpoint.h"
#include "packager/artifact.h"
#include "packager/package.h"
#include "packager/selfextract.h"
#include "pipeline/manifest.h"
#include "dataset/shard.h"
#include "dataset/tokenizer.h"
#include "train/train.h"
#include "kernels/eval.h"
#include "kernels/ttt.h"

#define ART_MAX ((size_t)4 << 30)

static int add_seed_file(pg_run_state *r, json_t *list, const char *fmt, long seed, int repro)
{
    char rel[128];
    snprintf(rel, sizeof rel, fmt, seed, seed);
    return pg_run_add_file(r, list, rel, repro);
}

/* Writes j (NULL: its construction ran out of memory) as RUN_DIR/rel, a reproducible output. */
/* Writes j at rel and records it as an output (reproducible: 1 the same bits every run,
 * 0 it holds wall-clock times). */
static int write_json(pg_run_state *r, const char *rel, json_t *j, json_t *outputs,
                      int reproducible)
{
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
    char *p = pg_run_path(r, rel);
    int rc = !p      ? -1
             : !text ? pg_fail("%s: out of memory", p)
                     : pg_write_file_atomic(p, text, strlen(text));
    free(text);
    free(p);
    return rc == 0 ? pg_run_add_file(r, outputs, rel, reproducible) : -1;
}

static int make_dir(pg_run_state *r, const char *rel)
{
    char *p = pg_run_path(r, rel);
    int rc = p ? pg_mkdir_p(p) : -1;
    free(p);
    return rc;
}

/* ---- data: validate the shards, the tokenizer and its byte table; the unigram baseline */

static int data_inputs(pg_run_state *r, pg_stage *s, json_t *list)
{
    (void)s;
    const pg_hparams *h = &r->c->h;
    if (pg_run_add_file(r, list, h->tokenizer_path, -1) != 0)
        return -1;
    static const char *const splits[] = {"train", "val"};
    for (int k = 0; k < 2; k++) {
        char **paths;
        size_t n;
        if (pg_shard_list(h->data_path, splits[k], &paths, &n) != 0)
            return -1;
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = pg_run_add_file(r, list, paths[i], -1);
        pg_shard_list_free(paths, n);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Add-one unigram model of the train tokens, scored like the standard eval (bits/byte);
 * NULL when out of memory. */
static json_t *unigram_baseline(const uint16_t *train, size_t ntrain, const uint16_t *val,
                                size_t nval, const pg_bpb_lut *lut, int vocab, int seq_len)
{
    double *count = calloc((size_t)vocab, sizeof *count);
    if (!count)
        return NULL;
    for (size_t i = 0; i < ntrain; i++)
        count[train[i]] += 1;
    double total = (double)ntrain + vocab, loss = 0, bytes = 0;
    size_t targets = pg_eval_total_targets(nval, seq_len);
    for (size_t i = 1; i <= targets; i++) {
        loss -= log((count[val[i]] + 1) / total);
        bytes += pg_bpb_token_bytes(lut, val[i - 1], val[i]);
    }
    free(count);
    return json_pack("{s:f, s:f, s:I, s:I}", "val_loss", loss / (double)targets, "val_bpb",
                     pg_bpb(loss, (double)targets, bytes), "tokens", (json_int_t)targets,
                     "bytes", (json_int_t)bytes);
}

/* The shards of a split (names, sizes, hashes) and its tokens; NULL when out of memory. */
static json_t *split_json(json_t *inputs, const char *split, const uint16_t *tok, size_t n)
{
    json_t *files = json_array();
    size_t i;
    json_t *f;
    char pat[32];
    snprintf(pat, sizeof pat, "fineweb_%s_", split);
    json_array_foreach(inputs, i, f)
    {
        const char *p = json_string_value(json_object_get(f, "path"));
        const char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
        if (strncmp(base, pat, strlen(pat)) == 0 &&
            json_array_append_new(files, json_pack("{s:s, s:O, s:O}", "name", base, "bytes",
                                                   json_object_get(f, "bytes"), "sha256",
                                                   json_object_get(f, "sha256"))) != 0) {
            json_decref(files);
            return NULL;
        }
    }
    return json_pack("{s:o, s:I, s:I}", "files", files, "tokens", (json_int_t)n, "documents",
                     (json_int_t)pg_count_documents(tok, n));
}

/* SHA-256 of the byte table: what val_bpb counts per token. */
static int lut_digest(const pg_bpb_lut *lut, char hex[PG_SHA256_HEX_LEN])
{
    size_t n = (size_t)lut->size;
    unsigned char *tab = malloc(4 * n + 1);
    if (!tab)
        return pg_fail("out of memory hashing the byte table");
    for (size_t i = 0; i < n; i++) {
        tab[4 * i] = (unsigned char)(lut->base_bytes[i] & 0xff);
        tab[4 * i + 1] = (unsigned char)((uint16_t)lut->base_bytes[i] >> 8);
        tab[4 * i + 2] = lut->has_leading_space[i];
        tab[4 * i + 3] = lut->is_boundary[i];
    }
    uint8_t d[PG_SHA256_LEN];
    pg_sha256(tab, 4 * n, d);
    pg_sha256_hex(d, hex);
    free(tab);
    return 0;
}

static int data_run(pg_run_state *r, pg_stage *s, json_t *outputs)
{
    const pg_hparams *h = &r->c->h;
    int vocab = h->model.vocab_size, rc = -1;
    pg_tokenizer tok;
    pg_bpb_lut lut = {0};
    uint16_t *train = NULL, *val = NULL;
    size_t ntrain = 0, nval = 0;
    json_t *e = pg_manifest_stage(r->manifest, s->id), *doc = NULL;
    if (pg_tokenizer_load(h->tokenizer_path, &tok) != 0)
        return -1;
    if (tok.vocab_size > vocab) {
        pg_fail("%s: %d pieces, more than VOCAB_SIZE=%d", h->tokenizer_path, tok.vocab_size, vocab);
        goto out;
    }
    if (pg_bpb_lut_build(&tok, vocab, &lut) != 0 ||
        pg_shards_load(h->data_path, "train", vocab, &train, &ntrain) != 0 ||
        pg_shards_load(h->data_path, "val", vocab, &val, &nval) != 0)
        goto out;
    if (pg_eval_total_targets(nval, h->model.seq_len) == 0) {
        pg_fail("%s: %zu val tokens, too few for one window of TRAIN_SEQ_LEN=%d", h->data_path,
                nval, h->model.seq_len);
        goto out;
    }
    char lut_hex[PG_SHA256_HEX_LEN];
    if (lut_digest(&lut, lut_hex) != 0) {
        pg_fail_prefix(h->tokenizer_path);
        goto out;
    }
    json_t *inputs = json_object_get(e, "inputs");
    doc = json_pack("{s:{s:O, s:i, s:i, s:s}, s:o, s:o, s:o}", "tokenizer", "sha256",
                    json_object_get(json_array_get(inputs, 0), "sha256"), "pieces",
                    tok.vocab_size, "vocab_size", vocab, "lut_sha256", lut_hex, "train",
                    split_json(inputs, "train", train, ntrain), "val",
                    split_json(inputs, "val", val, nval), "unigram",
                    unigram_baseline(train, ntrain, val, nval, &lut, vocab, h->model.seq_len));
    if (make_dir(r, s->dir) == 0 && write_json(r, "data/data.json", doc, outputs, 1) == 0) {
        rc = 0;
        if (r->o->out)
            fprintf(r->o->out, "       train %zu tokens, val %zu tokens, unigram baseline "
                               "val_bpb %.4f\n", ntrain, nval,
                    json_real_value(json_object_get(json_object_get(doc, "unigram"), "val_bpb")));
    }
out:
    json_decref(doc);
    free(train);
    free(val);
    pg_bpb_lut_free(&lut);
    pg_tokenizer_free(&tok);
    return rc;
}

/* ---- build: the program (versions, executable) and the sources train_gpt.py carries */

static const char *source_root(const pg_run_state *r)
{
    return r->o->source_root ? r->o->source_root : ".";
}

static int build_inputs(pg_run_state *r, pg_stage *s, json_t *list)
{
    (void)s;
    char **files;
    size_t n;
    if (pg_source_list(source_root(r), &files, &n) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = pg_path_join(source_root(r), files[i]);
        if (rc == 0)
            rc = p ? pg_run_add_file(r, list, p, -1)
                   : pg_fail("%s: out of memory listing the sources", source_root(r));
        free(p);
        free(files[i]);
    }
    free(files);
    return rc;
}

static int build_run(pg_run_state *r, pg_stage *s, json_t *outputs)
{
    unsigned char *arc;
    size_t len;
    if (make_dir(r, s->dir) != 0 || pg_source_archive(source_root(r), &arc, &len) != 0)
        return -1;
    char *p = pg_run_path(r, "build/sources.lzma");
    int rc = p ? pg_write_file_atomic(p, arc, len) : -1;
    free(p);
    free(arc);
    if (rc != 0 || pg_run_add_file(r, outputs, "build/sources.lzma", 1) != 0)
        return -1;
    json_t *doc = json_pack("{s:O, s:I}", "versions", r->versions, "sources",
                            (json_int_t)json_array_size(json_object_get(
                                pg_manifest_stage(r->manifest, s->id), "inputs")));
    rc = write_json(r, "build/build.json", doc, outputs, 1);
    json_decref(doc);
    return rc;
}

/* ---- train/seedS */

static int train_inputs(pg_run_state *r, pg_stage *s, json_t *list)
{
    (void)s;
    if (r->c->h.init_checkpoint[0] && pg_run_add_file(r, list, r->c->h.init_checkpoint, -1) != 0)
        return -1;
    return pg_run_add_file(r, list, "data/data.json", -1) != 0 ||
                   pg_run_add_file(r, list, "build/build.json", -1) != 0
               ? -1
               : 0;
}

typedef struct {
    FILE *out;
    const char *id;
    long iterations, batch_tokens;
    double t0;
} train_progress;

/* Progress lines (a terminal gets pg_train's live bar instead). */
static void on_step(void *ctx, long step, double loss)
{
    train_progress *p = ctx;
    long every = p->iterations >= 4 ? p->iterations / 4 : 1;
    if (step % every != 0 && step != p->iterations)
        return;
    double el = pg_now_seconds() - p->t0;
    double rate = el > 0 ? (double)step / el : 0;
    fprintf(p->out, "       %s step %ld/%ld train_loss %.4f %.0f tok/s ETA %.0f s\n", p->id,
            step, p->iterations, loss, rate * (double)p->batch_tokens,
            rate > 0 ? (double)(p->iterations - step) / rate : 0.0);
    fflush(p->out);
}

static int train_run(pg_run_state *r, pg_stage *s, json_t *outputs)
{
    pg_hparams h = r->c->h;
    h.seed = s->seed;
    char *dir = pg_run_path(r, s->dir);
    if (!dir)
        return -1;
    int tty = isatty(2);
    train_progress prog = {r->o->out, s->id, h.iterations, h.train_batch_tokens, pg_now_seconds()};
    pg_train_opts t = {.out_dir = dir, .resume = s->resume, .progress = tty, .quiet = 1,
                       .on_step = r->o->out && !tty ? on_step : NULL, .ctx = &prog,
                       .stop = r->o->stop, .backend = r->o->backend, .dist = r->o->dist};
    int rc = t.dist ? pg_run_order_train(t.dist, &h, dir, s->resume) : 0;
    if (rc == 0)
        rc = pg_train(&h, &t);
    free(dir);
    if (rc != 0)
        return -1;
    return add_seed_file(r, outputs, "train/seed%ld/final.ckpt", s->seed, 1) != 0 ||
                   add_seed_file(r, outputs, "train/seed%ld/train.log", s->seed, 0) != 0
               ? -1
               : 0;
}

/* ---- quantize/seedS and compress/seedS */

static int quantize_inputs(pg_run_state *r, pg_stage *s, json_t *list)
{
    return add_seed_file(r, list, "train/seed%ld/final.ckpt", s->seed, -1) != 0 ||
                   pg_run_add_file(r, list, "build/build.json", -1) != 0
               ? -1
               : 0;
}

static int save_image(pg_run_state *r, pg_stage *s, unsigned char *image, size_t len,
                      json_t *outputs)
{
    char rel[96];
    snprintf(rel, sizeof rel, "%s/model.art", s->dir);
    char *p = pg_run_path(r, rel);
    int rc = p && make_dir(r, s->dir) == 0 && pg_write_file_atomic(p, image, len) == 0 ? 0 : -1;
    free(p);
    free(image);
    return rc == 0 ? pg_run_add_file(r, outputs, rel, 1) : -1;
}

static int quantize_run(pg_run_state *r, pg_stage *s, json_t *outputs)
{
    char rel[96];
    snprintf(rel, sizeof rel, "train/seed%ld/final.ckpt", s->seed);
    char *ck = pg_run_path(r, rel);
    pg_model m;
    pg_quant_plan plan;
    pg_pack_stats st;
    unsigned char *image = NULL;
    if (strcmp(r->c->quant, "mixed") == 0)
        pg_quant_plan_mixed(&plan);
    else
        pg_quant_plan_int8(&plan);
    int rc = ck ? pg_checkpoint_load(ck, &m, NULL) : -1;
    if (rc == 0) {
        rc = pg_artifact_quantize(ck, &m, &plan, &st, &image);
        pg_model_free(&m);
    }
    free(ck);
    return rc == 0 ? save_image(r, s, image, st.file_bytes, outputs) : -1;
}

static int compress_inputs(pg_run_state *r, pg_stage *s, json_t *list)
{
    return add_seed_file(r, list, "quantize/seed%ld/model.art", s->seed, -1) != 0 ||
                   pg_run_add_file(r, list, "build/build.json", -1) != 0
               ? -1
               : 0;
}

static int compress_run(pg_run_state *r, pg_stage *s, json_t *outputs)
{
    char rel[96];
    snprintf(rel, sizeof rel, "quantize/seed%ld/model.art", s->seed);
    char *q = pg_run_path(r, rel);
    unsigned char *buf, *image = NULL;
    size_t len;
    pg_pack_stats st;
    int rc = q ? pg_read_file(q, ART_MAX, &buf, &len) : -1;
    if (rc == 0) {
        rc = pg_artifact_compress(q, buf, len, &st, &image);
        free(buf);
    }
    free(q);
    if (rc == 0 && r->o->out)
        fprintf(r->o->out, "       %s %zu raw bytes -> %zu bytes\n", s->id, len, st.file_bytes);
    return rc == 0 ? save_image(r, s, image, st.file_bytes, outputs) : -1;
}

/* ---- eval/seedS: the compressed artifact, standard, sliding and legal TTT as configured */

static int eval_inputs(pg_run_state *r, pg_stage *s, json_t *list)
{
    return add_seed_file(r, list, "compress/seed%ld/model.art", s->seed, -1) != 0 ||
                   pg_run_add_file(r, list, "data/data.json", -1) != 0 ||
                   pg_run_add_file(r, list, "build/build.json", -1) != 0
               ? -1
               : 0;
}

/* A mode's scores, with its stride when stride >= 0; NULL when out of memory. */
static json_t *result_json(const pg_eval_result *e, long stride)
{
    json_t *j = json_pack("{s:f, s:f, s:I, s:I}", "val_loss", e->val_loss, "val_bpb",
                          e->val_bpb, "tokens", (json_int_t)e->tokens, "bytes",
                          (json_int_t)e->bytes);
    if (j && stride >= 0 && json_object_set_new(j, "stride", json_integer(stride)) != 0) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* {"standard": ..., "sliding": ..., "ttt": ..., "final": {mode, val_loss, val_bpb}}: the
 * scores (eval.json, reproducible); with times, each mode's wall seconds (times.json). */
static json_t *scores_json(const pg_final_scores *f, int times)
{
    const char *mode;
    const pg_eval_result *claim = pg_final_claim(f, &mode);
    json_t *doc = json_object();
    int ok = doc != NULL;
    if (times) {
        ok = ok && json_object_set_new(doc, "standard_s", json_real(f->standard_s)) == 0 &&
             (!f->has_sliding || json_object_set_new(doc, "sliding_s", json_real(f->sliding_s)) == 0) &&
             (!f->has_ttt || json_object_set_new(doc, "ttt_s", json_real(f->ttt_s)) == 0);
    } else {
        ok = ok && json_object_set_new(doc, "standard", result_json(&f->standard, -1)) == 0 &&
             (!f->has_sliding ||
              json_object_set_new(doc, "sliding", result_json(&f->sliding, f->sliding_stride)) == 0) &&
             (!f->has_ttt || json_object_set_new(doc, "ttt", result_json(&f->ttt, f->ttt_stride)) == 0) &&
             json_object_set_new(doc, "final",
                                 json_pack("{s:s, s:f, s:f}", "mode", mode, "val_loss",
                                           claim->val_loss, "val_bpb", claim->val_bpb)) == 0;
    }
    if (!ok) {
        json_decref(doc);
        return NULL; /* write_json reports it */
    }
    return doc;
}

static int eval_run(pg_run_state *r, pg_stage *s, json_t *outputs)
{
    const pg_run_config *c = r->c;
    char rel[96];
    snprintf(rel, sizeof rel, "compress/seed%ld/model.art", s->seed);
    char *art = pg_run_path(r, rel);
    if (!art)
        return -1;
    pg_model m = {0};
    pg_tokenizer tok;
    pg_bpb_lut lut = {0};
    uint16_t *val = NULL;
    size_t nval;
    json_t *doc = NULL, *times = NULL;
    int rc = -1, have_tok = 0;
    if (pg_artifact_load(art, &m, NULL) != 0 ||
        (r->o->backend && pg_model_to_backend(&m, r->o->backend) != 0) ||
        pg_tokenizer_load(c->h.tokenizer_path, &tok) != 0)
        goto out;
    have_tok = 1;
    pg_final_scores f;
    if (pg_bpb_lut_build(&tok, m.cfg.vocab_size, &lut) != 0 ||
        pg_shards_load(c->h.data_path, "val", m.cfg.vocab_size, &val, &nval) != 0 ||
        pg_final_evals(&m, val, nval, &lut, &c->fin, 0, &f) != 0)
        goto out;
    doc = scores_json(&f, 0);
    times = scores_json(&f, 1);
    json_t *in0 = json_array_get(json_object_get(pg_manifest_stage(r->manifest, s->id), "inputs"), 0);
    if (doc && json_object_set_new(doc, "seed", json_integer(s->seed)) == 0 &&
        json_object_set(doc, "artifact_bytes", json_object_get(in0, "bytes")) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    const char *mode;
    double claimed = pg_final_claim(&f, &mode)->val_bpb;
    if (r->o->out)
        fprintf(r->o->out, "       %s val_bpb standard %.4f, final (%s) %.4f\n", s->id,
                f.standard.val_bpb, mode, claimed);
    char trel[96];
    snprintf(rel, sizeof rel, "%s/eval.json", s->dir);
    snprintf(trel, sizeof trel, "%s/times.json", s->dir);
    rc = make_dir(r, s->dir) == 0 && write_json(r, rel, doc, outputs, 1) == 0 &&
                 write_json(r, trel, times, outputs, 0) == 0
             ? 0
             : -1;
out:
    json_decref(doc);
    json_decref(times);
    free(val);
    free(art);
    pg_bpb_lut_free(&lut);
    if (have_tok)
        pg_tokenizer_free(&tok);
    pg_model_free(&m);
    return rc;
}

/* ---- package: the records folder from the compressed artifacts and their eval results */

static int package_inputs(pg_run_state *r, pg_stage *s, json_t *list)
{
    (void)s;
    for (int i = 0; i < r->c->nseeds; i++) {
        long seed = r->c->seeds[i];
        if (add_seed_file(r, list, "train/seed%ld/train.log", seed, -1) != 0 ||
            add_seed_file(r, list, "compress/seed%ld/model.art", seed, -1) != 0 ||
            add_seed_file(r, list, "eval/seed%ld/eval.json", seed, -1) != 0 ||
            add_seed_file(r, list, "eval/seed%ld/times.json", seed, -1) != 0)
            return -1;
    }
    return pg_run_add_file(r, list, "build/sources.lzma", -1);
}

/* One mode of eval.json (with its seconds from times.json) into r; 0 when absent. */
static int mode_scores(const json_t *ev, const json_t *times, const char *mode,
                       pg_eval_result *r, double *seconds, long *stride)
{
    json_t *m = json_object_get(ev, mode);
    char key[32];
    snprintf(key, sizeof key, "%s_s", mode);
    json_t *loss = json_object_get(m, "val_loss"), *bpb = json_object_get(m, "val_bpb");
    json_t *st = json_object_get(m, "stride"), *t = json_object_get(times, key);
    if (!m)
        return 0;
    if (!json_is_number(loss) || !json_is_number(bpb) || !json_is_number(t) ||
        (stride && !json_is_integer(st)))
        return -1;
    r->val_loss = json_number_value(loss);
    r->val_bpb = json_number_value(bpb);
    *seconds = json_number_value(t);
    if (stride)
        *stride = (long)json_integer_value(st);
    return 1;
}

/* The final evaluations of eval/seedS: scores from eval.json, seconds from times.json. */
static int eval_scores(pg_run_state *r, long seed, pg_final_scores *f)
{
    char rel[96], trel[96];
    snprintf(rel, sizeof rel, "eval/seed%ld/eval.json", seed);
    snprintf(trel, sizeof trel, "eval/seed%ld/times.json", seed);
    json_t *ev = pg_run_load_json(r, rel), *times = ev ? pg_run_load_json(r, trel) : NULL;
    if (!times) {
        json_decref(ev);
        return -1;
    }
    memset(f, 0, sizeof *f);
    int std = mode_scores(ev, times, "standard", &f->standard, &f->standard_s, NULL);
    f->has_sliding = mode_scores(ev, times, "sliding", &f->sliding, &f->sliding_s,
                                 &f->sliding_stride);
    f->has_ttt = mode_scores(ev, times, "ttt", &f->ttt, &f->ttt_s, &f->ttt_stride);
    json_decref(ev);
    json_decref(times);
    return std == 1 && f->has_sliding >= 0 && f->has_ttt >= 0
               ? 0
               : pg_fail("%s/%s: a score without val_loss, val_bpb, stride or its seconds in "
                         "times.json",
                         r->dir, rel);
}

/* One seed's inputs: its training run, compressed artifact (read into *art) and score. */
static int package_seed(pg_run_state *r, long seed, pg_package_seed *ps, char **dir,
                        unsigned char **art)
{
    char rel[96];
    snprintf(rel, sizeof rel, "train/seed%ld", seed);
    if (!(*dir = pg_run_path(r, rel)))
        return -1;
    snprintf(rel, sizeof rel, "compress/seed%ld/model.art", seed);
    char *p = pg_run_path(r, rel);
    int rc = p ? pg_read_file(p, ART_MAX, art, &ps->artifact_len) : -1;
    free(p);
    ps->run_dir = *dir;
    ps->artifact = *art;
    return rc == 0 ? eval_scores(r, seed, &ps->scores) : -1;
}

/* The first seed's training settings, "NAME=VALUE" as its train.log opens with them. */
static int train_settings(pg_run_state *r, char ***out, int *n)
{
    json_t *set = pg_run_config_train_settings(r->c, r->c->seeds[0]);
    const char *k;
    json_t *v;
    *n = 0;
    *out = set ? calloc(json_object_size(set) + 1, sizeof **out) : NULL;
    int rc = *out ? 0 : -1;
    json_object_foreach(set, k, v)
    {
        size_t len = strlen(k) + json_string_length(v) + 2;
        if (rc != 0 || !((*out)[*n] = malloc(len))) {
            rc = -1;
            break;
        }
        snprintf((*out)[(*n)++], len, "%s=%s", k, json_string_value(v));
    }
    json_decref(set);
    return rc == 0 ? 0 : pg_fail("%s: out of memory collecting the training settings", r->dir);
}

static void free_strings(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static int package_outputs(pg_run_state *r, json_t *outputs)
{
    static const char *const fixed[] = {"records/train_gpt.py", "records/README.md",
                                        "records/submission.json", "records/loss.svg"};
    for (int k = 0; k < 4; k++)
        if (pg_run_add_file(r, outputs, fixed[k], k == 0) != 0)
            return -1;
    for (int i = 0; i < r->c->nseeds; i++) {
        long seed = r->c->seeds[i];
        if (add_seed_file(r, outputs, "records/model_seed%ld.art", seed, 1) != 0 ||
            add_seed_file(r, outputs, "records/train_seed%ld.log", seed, 0) != 0)
            return -1;
    }
    return 0;
}

static int package_run(pg_run_state *r, pg_stage *s, json_t *outputs)
{
    const pg_run_config *c = r->c;
    int n = c->nseeds, nsettings = 0, rc = -1;
    pg_package_seed *seeds = calloc((size_t)n, sizeof *seeds);
    char **dirs = calloc((size_t)n, sizeof *dirs), **settings = NULL;
    unsigned char **arts = calloc((size_t)n, sizeof *arts), *arc = NULL;
    char *out_dir = pg_run_path(r, s->dir), *src = pg_run_path(r, "build/sources.lzma");
    size_t alen;
    if (!seeds || !dirs || !arts) {
        pg_fail("%s: out of memory", r->dir);
        goto out;
    }
    if (!out_dir || !src || pg_read_file(src, (size_t)64 << 20, &arc, &alen) != 0)
        goto out;
    for (int i = 0; i < n; i++)
        if (package_seed(r, c->seeds[i], &seeds[i], &dirs[i], &arts[i]) != 0)
            goto out;
    if (train_settings(r, &settings, &nsettings) != 0)
        goto out;
    pg_package_opts po = {.out_dir = out_dir, .name = c->name, .author = c->author,
                          .github_id = c->github_id, .date = c->date, .track = c->track,
                          .blurb = "Trained, quantized, packaged and evaluated by `pgolf run`.",
                          .source_archive = arc, .source_archive_len = alen,
                          .settings = (const char *const *)settings, .nsettings = nsettings,
                          .scheme_name = c->quant, .evals = &c->fin,
                          .significance = "`pgolf run` tests the seeds against RUN_SOTA in its "
                                          "stats stage: see the run's `stats/report.txt`."};
    if (pg_package(seeds, n, &po) == 0 && package_outputs(r, outputs) == 0)
        rc = 0;
out:
    for (int i = 0; dirs && arts && i < n; i++) {
        free(dirs[i]);
        free(arts[i]);
    }
    free(seeds);
    free(dirs);
    free(arts);
    free_strings(settings, nsettings);
    free(out_dir);
    free(src);
    free(arc);
    return rc;
}

/* ---- the plan */

/* The settings whose names are listed (or start with a listed "PREFIX_*"); NULL when out
 * of memory. */
static json_t *pick(const json_t *settings, const char *const *names)
{
    json_t *o = settings ? json_object() : NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)settings, k, v)
    {
        for (int i = 0; o && names[i]; i++) {
            size_t n = strlen(names[i]);
            int prefix = n > 0 && names[i][n - 1] == '*';
            int match = prefix ? strncmp(k, names[i], n - 1) == 0 : strcmp(k, names[i]) == 0;
            if (match && json_object_set(o, k, v) != 0) {
                json_decref(o);
                o = NULL;
            }
        }
    }
    return o;
}

/* The records folder's settings and the settings train_gpt.py carries: the first seed's
 * training settings and the evaluations'. */
static json_t *package_params(const pg_run_config *c, const json_t *all)
{
    /* TTT_* only with TTT, as the eval stage */
    static const char *const names[] = {"RUN_NAME", "RUN_AUTHOR", "RUN_GITHUB_ID", "RUN_DATE",
                                        "RUN_TRACK", "RUN_QUANT", "RUN_SLIDING_STRIDE",
                                        "RUN_TTT", "RUN_TTT_STRIDE", NULL, "TTT_*", NULL};
    json_t *p = pick(all, names), *t = pg_run_config_train_settings(c, c->seeds[0]);
    json_t *ttt = c->fin.ttt ? pick(all, names + 10) : json_object();
    if (!ttt || (p && json_object_update(p, ttt) != 0)) {
        json_decref(p);
        p = NULL;
    }
    json_decref(ttt);
    if (!p || !t || json_object_update(p, t) != 0) {
        json_decref(p);
        p = NULL;
    }
    json_decref(t);
    return p;
}

/* A computing stage's params name its backend unless it is the CPU (the definition, and
 * what runs recorded before backends were a choice); a distributed one's also its ranks. */
static json_t *on_backend(const pg_run_state *r, json_t *params, int distributed)
{
    const pg_backend *be = r->o->backend;
    if (!params || !be || strcmp(be->name, "cpu") == 0)
        return params;
    /* off the CPU, the ranks' all-reduce (NCCL's sum order) is part of the bits too */
    int ranks = distributed && r->o->dist ? r->o->dist->world : 1;
    /* and the linear layers' precision, which changes the bits (PGOLF_CUDA_LINEAR) */
    if (json_object_set_new(params, "backend", json_string(be->name)) != 0 ||
        (be->linear_bf16 && json_object_set_new(params, "linear",
                                                json_string(be->linear_bf16(-1) ? "bf16"
                                                                                : "fp32")) != 0) ||
        (ranks > 1 && json_object_set_new(params, "ranks", json_integer(ranks)) != 0)) {
        json_decref(params);
        return NULL;
    }
    return params;
}

static void add(pg_stage *plan, int *n, const char *kind, long seed, json_t *params,
                int (*in)(pg_run_state *, pg_stage *, json_t *),
                int (*run)(pg_run_state *, pg_stage *, json_t *))
{
    pg_stage *s = &plan[(*n)++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->seed = seed;
    if (seed >= 0) {
        snprintf(s->id, sizeof s->id, "%s/seed%ld", kind, seed);
        snprintf(s->dir, sizeof s->dir, "%s/seed%ld", kind, seed);
    } else {
        snprintf(s->id, sizeof s->id, "%s", kind);
        snprintf(s->dir, sizeof s->dir, "%s", strcmp(kind, "package") == 0 ? "records" : kind);
    }
    s->params = params;
    s->inputs = in;
    s->run = run;
}

int pg_run_plan(pg_run_state *r, pg_stage *plan, int *n)
{
    const pg_run_config *c = r->c;
    json_t *all = pg_run_config_settings(c);
    static const char *const data_p[] = {"DATA_PATH", "TOKENIZER_PATH", "VOCAB_SIZE",
                                         "TRAIN_SEQ_LEN", NULL};
    static const char *const quant_p[] = {"RUN_QUANT", NULL};
    static const char *const none[] = {NULL};
    static const char *const eval_p[] = {"RUN_SLIDING_STRIDE", "RUN_TTT", "RUN_TTT_STRIDE", NULL};
    static const char *const eval_ttt_p[] = {"RUN_SLIDING_STRIDE", "RUN_TTT", "RUN_TTT_STRIDE",
                                             "TTT_*", NULL};
    static const char *const stats_p[] = {"RUN_SOTA", "RUN_SOTA_RECORD", "RUN_THRESHOLD",
                                          "RUN_THRESHOLD_BPB", "RUN_ALPHA", NULL};
    *n = 0;
    add(plan, n, "data", -1, pick(all, data_p), data_inputs, data_run);
    json_t *bp = json_pack("{s:s}", "source_root", source_root(r));
    add(plan, n, "build", -1, bp, build_inputs, build_run);
    for (int i = 0; i < c->nseeds; i++)
        add(plan, n, "train", c->seeds[i], on_backend(r, pg_run_config_train_settings(c, c->seeds[i]), 1),
            train_inputs, train_run);
    for (int i = 0; i < c->nseeds; i++)
        add(plan, n, "quantize", c->seeds[i], pick(all, quant_p), quantize_inputs, quantize_run);
    for (int i = 0; i < c->nseeds; i++)
        add(plan, n, "compress", c->seeds[i], pick(all, none), compress_inputs, compress_run);
    for (int i = 0; i < c->nseeds; i++)
        add(plan, n, "eval", c->seeds[i], on_backend(r, pick(all, c->fin.ttt ? eval_ttt_p : eval_p), 0),
            eval_inputs, eval_run);
    add(plan, n, "package", -1, package_params(c, all), package_inputs, package_run);
    add(plan, n, "stats", -1, pick(all, stats_p), pg_run_stats_inputs, pg_run_stats);
    json_decref(all);
    for (int i = 0; i < *n; i++)
        if (!plan[i].params)
            return pg_fail("%s: out of memory planning the stages", r->dir);
    return 0;
}
