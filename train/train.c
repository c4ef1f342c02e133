#include "train/train.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/progress.h"
#include "kernels/checkpoint.h"
#include "common/buildinfo.h"
#include "dataset/loader.h"
#include "dataset/shard.h"
#include "dataset/val.h"
#include "kernels/eval.h"
#include "kernels/hessian.h"


double pg_train_cap_ms(const pg_hparams *h)
{
    return h->max_wallclock_seconds > 0
               ? 1000.0 * (h->max_wallclock_seconds - h->gptq_reserve_seconds)
               : -1;
}

double pg_train_frac(const pg_hparams *h, long step, double elapsed_ms)
{
    if (h->max_wallclock_seconds > 0)
        return elapsed_ms / pg_train_cap_ms(h);
    return (double)step / (double)(h->iterations > 1 ? h->iterations : 1);
}

double pg_lr_scale(const pg_hparams *h, long step, double elapsed_ms)
{
    if (h->warmdown_frac > 0) {
        double frac = pg_train_frac(h, step, elapsed_ms);
        if (frac >= 1.0 - h->warmdown_frac)
            return fmax((1.0 - frac) / h->warmdown_frac, h->min_lr);
        return 1.0;
    }
    if (h->warmdown_iters <= 0)
        return 1.0;
    if (h->max_wallclock_seconds <= 0) {
        long start = h->iterations - h->warmdown_iters > 0 ? h->iterations - h->warmdown_iters : 0;
        if (step >= start && step < h->iterations)
            return fmax((double)(h->iterations - step) / (double)h->warmdown_iters, 0.0);
        return 1.0;
    }
    double step_ms = elapsed_ms / (double)(step > 1 ? step : 1);
    double warmdown_ms = (double)h->warmdown_iters * step_ms;
    double remaining_ms = fmax(pg_train_cap_ms(h) - elapsed_ms, 0.0);
    return remaining_ms <= warmdown_ms ? remaining_ms / fmax(warmdown_ms, 1e-9) : 1.0;
}

int pg_loops_on(const pg_hparams *h, long step, double elapsed_ms)
{
    return pg_train_frac(h, step, elapsed_ms) >= h->enable_looping_at;
}

double pg_muon_momentum(const pg_hparams *h, long step)
{
    double frac = h->muon_momentum_warmup_steps > 0
                      ? fmin((double)step / (double)h->muon_momentum_warmup_steps, 1.0)
                      : 1.0;
    return (1 - frac) * h->muon_momentum_warmup_start + frac * h->muon_momentum;
}

typedef struct {
    FILE *log;
    int echo; /* also to stdout */
} logger;

static void logf_(logger *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(logger *lg, const char *fmt, ...)
{
    if (!lg->log) /* ranks other than 0 of a launched run */
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(lg->log, fmt, ap);
    va_end(ap);
    fputc('\n', lg->log);
    fflush(lg->log);
    if (!lg->echo)
        return;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

typedef struct {
    const pg_hparams *h;
    pg_model m;
    pg_optim opt;
    pg_token_stream stream;
    uint16_t *val;
    size_t nval;
    pg_bpb_lut lut;
    long step;
    double train_ms;
    char state_path[PG_PATH_MAX + 160], final_path[PG_PATH_MAX + 160], log_path[PG_PATH_MAX + 160];
    char hessians_path[PG_PATH_MAX + 160];
    int rank; /* of a launched run; only rank 0 writes files */
} trainer;

static json_t *state_meta(const trainer *t)
{
    return json_pack("{s:s, s:I, s:f, s:I, s:{s:I, s:I}, s:o}", "created_by",
                     "pgolf train", "step", (json_int_t)t->step, "train_ms",
                     t->train_ms, "optim_step", (json_int_t)t->opt.step, "loader", "file",
                     (json_int_t)t->stream.file_idx, "pos", (json_int_t)t->stream.pos, "hparams",
                     pg_hparams_to_json(t->h));
}

static int save_state(trainer *t)
{
    if (t->rank != 0)
        return 0;
    pg_ckpt_extra ex[4] = {{"optim.adam_m", t->opt.adam_m},
                           {"optim.adam_v", t->opt.adam_v},
                           {"optim.muon_buf", t->opt.muon_buf},
                           {"optim.ema", t->opt.ema}};
    json_t *meta = state_meta(t);
    int rc = pg_checkpoint_save(t->state_path, &t->m, meta, ex, t->opt.ema ? 4 : 3);
    json_decref(meta);
    return rc;
}

static int load_state(trainer *t)
{
    pg_ckpt_extra ex[4] = {{"optim.adam_m", NULL}, {"optim.adam_v", NULL},
                           {"optim.muon_buf", NULL}, {"optim.ema", NULL}};
    int nex = t->opt.ema ? 4 : 3;
    pg_model loaded;
    json_t *meta;
    if (pg_checkpoint_load_with(t->state_path, &loaded, &meta, ex, nex) != 0)
        return -1;
    int rc = -1;
    json_t *want = pg_hparams_to_json(t->h), *have = json_object_get(meta, "hparams");
    if (!json_equal(want, have)) {
        const char *key;
        json_t *v;
        char what[128] = "settings";
        json_object_foreach(want, key, v)
        {
            if (!json_equal(v, json_object_get(have, key))) {
                snprintf(what, sizeof what, "%s", key);
                break;
            }
        }
        pg_fail("%s: was written with different settings (%s differs): resume needs the same "
                "configuration",
                t->state_path, what);
        goto out;
    }
    json_t *ld = json_object_get(meta, "loader");
    if (pg_stream_seek(&t->stream, (size_t)json_integer_value(json_object_get(ld, "file")),
                       (size_t)json_integer_value(json_object_get(ld, "pos"))) != 0) {
        pg_fail_prefix(t->state_path);
        goto out;
    }
    pg_model_write_params(&t->m, loaded.params);
    size_t bytes = loaded.num_params * sizeof(pg_real);
    t->m.be->to_device(t->opt.adam_m, ex[0].data, bytes);
    t->m.be->to_device(t->opt.adam_v, ex[1].data, bytes);
    t->m.be->to_device(t->opt.muon_buf, ex[2].data, bytes);
    if (t->opt.ema)
        t->m.be->to_device(t->opt.ema, ex[3].data, bytes);
    t->step = (long)json_integer_value(json_object_get(meta, "step"));
    t->train_ms = json_number_value(json_object_get(meta, "train_ms"));
    t->opt.step = (long)json_integer_value(json_object_get(meta, "optim_step"));
    rc = 0;
out:
    json_decref(want);
    json_decref(meta);
    for (int i = 0; i < nex; i++)
        free(ex[i].data);
    pg_model_free(&loaded);
    return rc;
}

static int validate(trainer *t, pg_eval_result *r)
{
    pg_eval_opts eo = {.mode = PG_EVAL_STANDARD, .seq_len = t->h->model.seq_len, .batch = 8};
    return pg_eval_run(&t->m, t->val, t->nval, &t->lut, &eo, r, NULL);
}

static int setup(trainer *t, const pg_hparams *h, const pg_train_opts *o)
{
    memset(t, 0, sizeof *t);
    t->h = h;
    const char *id = o->run_id, *sep = o->run_id ? "_" : "";
    snprintf(t->state_path, sizeof t->state_path, "%s/%s%sstate.ckpt", o->out_dir, id ? id : "", sep);
    snprintf(t->final_path, sizeof t->final_path, "%s/%s%sfinal.ckpt", o->out_dir, id ? id : "", sep);
    snprintf(t->hessians_path, sizeof t->hessians_path, "%s/%s%shessians.bin", o->out_dir,
             id ? id : "", sep);
    if (id)
        snprintf(t->log_path, sizeof t->log_path, "%s/%s.txt", o->out_dir, id);
    else
        snprintf(t->log_path, sizeof t->log_path, "%s/train.log", o->out_dir);
    if (pg_val_load(h->tokenizer_path, h->data_path, h->model.vocab_size, &t->lut, &t->val,
                    &t->nval) != 0)
        return -1;
    if (pg_eval_total_targets(t->nval, h->model.seq_len) == 0)
        return pg_fail("%s: validation split (%zu tokens) is shorter than TRAIN_SEQ_LEN=%d",
                       h->data_path, t->nval, h->model.seq_len);
    if (pg_stream_open(&t->stream, h->data_path, h->model.vocab_size) != 0 ||
        (h->train_loader == PG_LOADER_DOCUMENTS &&
         pg_stream_pack_documents(&t->stream, h->model.bos_id) != 0))
        return -1;
    size_t train_tokens = 0;
    for (size_t i = 0; i < t->stream.nfiles; i++) {
        struct stat st;
        if (stat(t->stream.paths[i], &st) == 0)
            train_tokens += ((size_t)st.st_size - PG_SHARD_HEADER_BYTES) / 2;
    }
    long chunk = h->train_batch_tokens / pg_hparams_grad_accum(h) + h->world_size;
    if ((size_t)chunk > train_tokens)
        return pg_fail("%s: the train split has %zu tokens, fewer than one micro-batch (%ld)",
                       h->data_path, train_tokens, chunk);
    const pg_backend *be = o->backend ? o->backend : pg_backend_cpu();
    if (pg_model_create_on(&t->m, &h->model, be) != 0 || pg_optim_create(&t->opt, &t->m, h->ema_decay > 0) != 0 ||
        pg_model_init(&t->m, (uint64_t)h->seed, PG_INIT_REFERENCE) != 0)
        return -1;
    if (h->init_checkpoint[0]) {
        pg_model init;
        if (pg_checkpoint_load(h->init_checkpoint, &init, NULL) != 0)
            return -1;
        int same = memcmp(&init.cfg, &h->model, sizeof init.cfg) == 0;
        if (same)
            pg_model_write_params(&t->m, init.params);
        pg_model_free(&init);
        if (!same)
            return pg_fail("%s: INIT_CHECKPOINT has a different model shape than the settings",
                           h->init_checkpoint);
    }
    pg_optim_ema_start(&t->opt, &t->m); /* a resumed run's EMA is loaded over it */
    return 0;
}

static void teardown(trainer *t)
{
    pg_model_free(&t->m);
    pg_optim_free(&t->opt);
    pg_stream_close(&t->stream);
    free(t->val);
    pg_bpb_lut_free(&t->lut);
}

static void log_header(logger *lg, const trainer *t, const pg_train_opts *o)
{
    const pg_hparams *h = t->h;
    if (!lg->log)
        return;
    logf_(lg, "pgolf_train version:%s backend:%s out:%s", pg_build_version(), t->m.be->name,
          o->out_dir);
    if (o->run_id)
        logf_(lg, "run_id:%s log:%s", o->run_id, t->log_path);
    fprintf(lg->log, "== resolved configuration ==\n");
    pg_hparams_print(h, lg->log, "config:");
    fprintf(lg->log, "== end of configuration ==\n");
    logf_(lg, "val_bpb:enabled tokenizer_kind=sentencepiece tokenizer_path=%s", h->tokenizer_path);
    logf_(lg, "train_loader:dataset:%s train_shards:%zu", h->data_path, t->stream.nfiles);
    if (h->train_loader == PG_LOADER_DOCUMENTS)
        logf_(lg, "train_loader:document_packing bos_id:%d piece_len:%d", h->model.bos_id,
              h->model.seq_len);
    logf_(lg, "val_loader:shards pattern=%s/fineweb_val_*.bin tokens:%zu", h->data_path,
          pg_eval_total_targets(t->nval, h->model.seq_len));
    logf_(lg, "model_params:%zu", t->m.num_params);
    logf_(lg, "world_size:%ld grad_accum_steps:%d", h->world_size, pg_hparams_grad_accum(h));
    logf_(lg, "attention_mode:gqa num_heads:%d num_kv_heads:%d", h->model.num_heads,
          h->model.num_kv_heads);
    logf_(lg, "tie_embeddings:True embed_lr:%g head_lr:0.0 matrix_lr:%g scalar_lr:%g",
          h->tied_embed_lr, h->matrix_lr, h->scalar_lr);
    logf_(lg, "train_batch_tokens:%ld train_seq_len:%d iterations:%ld warmup_steps:%ld "
              "max_wallclock_seconds:%.3f",
          h->train_batch_tokens, h->model.seq_len, h->iterations, h->warmup_steps,
          h->max_wallclock_seconds);
    logf_(lg, "seed:%ld", h->seed);
}

/* One optimizer step's gradient over grad_accum micro-steps of world_size ranks: every
 * rank of one process (emulated) or only this process's rank. Each rank accumulates its
 * micro-steps, then the ranks are summed in rank order from zero: in `grad` directly
 * (emulation) or by the all-reduce (processes), so both give the same bits. The stream
 * advances by the whole step's tokens either way. Returns rank 0's mean micro-step loss
 * (what the reference logs) in *train_loss (0 on other ranks). */
static int train_step(trainer *t, pg_acts *a, pg_real *grad, pg_real *tmp, int *ids, int *tgt,
                      int *doc_span, uint16_t *chunk, const pg_dist *dist, double *train_loss)
{
    const pg_hparams *h = t->h;
    const pg_backend *be = t->m.be;
    int W = (int)h->world_size, accum = pg_hparams_grad_accum(h);
    size_t local = (size_t)(h->train_batch_tokens / (W * accum)), per_micro = (local + 1) * (size_t)W;
    size_t n = t->m.num_params;
    double dloss = 1.0 / ((double)W * accum * (double)local), rank0 = 0;
    int packed = h->train_loader == PG_LOADER_DOCUMENTS;
    for (int micro = 0; packed && micro < accum; micro++)
        if (pg_stream_take_packed(&t->stream, per_micro, chunk + (size_t)micro * per_micro) != 0)
            return -1;
    if (!packed && pg_stream_take(&t->stream, per_micro * (size_t)accum, chunk) != 0)
        return -1;
    int first = dist ? dist->rank : 0, end = dist ? dist->rank + 1 : W;
    be->zero(grad, n * sizeof *grad);
    for (int r = first; r < end; r++) {
        pg_real *acc = dist || W == 1 ? grad : tmp;
        if (acc == tmp)
            be->zero(tmp, n * sizeof *tmp);
        for (int micro = 0; micro < accum; micro++) {
            const uint16_t *span = chunk + (size_t)micro * per_micro + (size_t)r * (local + 1);
            for (size_t i = 0; i < local; i++) {
                ids[i] = span[i];
                tgt[i] = span[i + 1];
            }
            if (packed) { /* one row: attention cut at each BOS and every TRAIN_SEQ_LEN */
                pg_doc_spans(ids, (int)local, h->model.bos_id, h->model.seq_len, doc_span);
                pg_acts_set_spans(a, doc_span);
            }
            double sum = pg_model_forward(&t->m, a, ids, tgt);
            if (r == 0)
                rank0 += sum / (double)local;
            pg_model_backward(&t->m, a, ids, tgt, acc, dloss);
        }
        if (acc == tmp)
            be->add(grad, tmp, n);
    }
    *train_loss = rank0 / accum;
    return dist ? be->all_reduce_sum(grad, n) : 0;
}

/* GPTQ's Hessians from the final weights (rank 0): GPTQ_CALIBRATION_BATCHES forward
 * passes over rank 0's share of a step's tokens from the train stream, in plain causal
 * rows of TRAIN_SEQ_LEN (the records draw shuffled rows of that length), then
 * hessians.bin. */
static int collect_hessians(trainer *t, logger *lg)
{
    const pg_hparams *h = t->h;
    int T = h->model.seq_len;
    size_t local = (size_t)(h->train_batch_tokens / (h->world_size * pg_hparams_grad_accum(h)));
    int rows = (int)(local / (size_t)T);
    double t0 = pg_now_seconds();
    logf_(lg, "GPTQ:collecting Hessians from calibration data...");
    pg_acts a = {0};
    pg_hessians hs = {0};
    uint16_t *chunk = malloc((local + 1) * sizeof *chunk);
    int *ids = malloc(local * sizeof *ids), rc = -1;
    if (!chunk || !ids || pg_acts_create(&a, &t->m, rows, T, 1) != 0 ||
        pg_hessians_create(&hs, &t->m) != 0) {
        pg_fail("out of memory for GPTQ's calibration passes");
        goto out;
    }
    for (long b = 0; b < h->gptq_calibration_batches; b++) {
        if (pg_stream_take(&t->stream, local + 1, chunk) != 0)
            goto out;
        for (size_t i = 0; i < local; i++)
            ids[i] = chunk[i];
        pg_model_forward(&t->m, &a, ids, NULL);
        pg_hessians_add(&hs, &t->m, &a);
    }
    if ((rc = pg_hessians_save(&hs, t->hessians_path)) == 0)
        logf_(lg, "GPTQ:collected %d Hessians in %.1fs (%s)", 6 * h->model.num_layers + 1,
              pg_now_seconds() - t0, t->hessians_path);
out:
    if (a.buf)
        pg_acts_free(&a);
    pg_hessians_free(&hs);
    free(chunk);
    free(ids);
    return rc;
}

/* What rank 0 decides for every rank of a launched run, sent after each step's gradient. */
typedef struct {
    double scale, train_loss;
    int32_t interrupted, loops_next; /* loops_next: the recurrence runs at the next step */
} step_control;

/* An earlier run's files are continued (resume, from its state), replaced (force) or a
 * reason to stop: starting over would overwrite its log and checkpoints. */
static int claim_run_files(const trainer *t, const pg_train_opts *o)
{
    const char *files[] = {t->log_path, t->state_path, t->final_path};
    char found[3 * (PG_PATH_MAX + 160) + 8] = "";
    struct stat st;
    int have_state = stat(t->state_path, &st) == 0, n = 0;
    for (int i = 0; i < 3; i++)
        if (lstat(files[i], &st) == 0) {
            size_t len = strlen(found);
            snprintf(found + len, sizeof found - len, "%s%s", n++ ? ", " : "", files[i]);
        }
    if (n == 0 || (o->resume && have_state))
        return 0;
    if (o->force) {
        for (int i = 0; i < 3; i++)
            if (remove(files[i]) != 0 && errno != ENOENT)
                return pg_fail("%s: cannot remove: %s", files[i], strerror(errno));
        return 0;
    }
    if (o->resume && stat(t->final_path, &st) != 0)
        return 0; /* killed before its first checkpoint: only its log is started again */
    if (o->resume)
        return pg_fail("%s: no state checkpoint to resume from, but %s exist: pass --force to "
                       "start over (replacing them), or choose another --out",
                       t->state_path, found);
    return pg_fail("%s holds a training run (%s): pass --resume to continue it, --force to "
                   "start over (replacing it), or choose another --out", o->out_dir, found);
}

int pg_train(const pg_hparams *h, const pg_train_opts *o)
{
    if (pg_hparams_validate(h) != 0)
        return -1;
    if (pg_mkdir_p(o->out_dir) != 0)
        return -1;
    trainer t;
    if (setup(&t, h, o) != 0) {
        teardown(&t);
        return -1;
    }
    /* rank 0 owns the files: it decides, and the other ranks follow its state */
    struct stat st;
    pg_dist *dist = o->dist && o->dist->world > 1 ? o->dist : NULL;
    int rank = dist ? dist->rank : 0;
    if (rank == 0 && claim_run_files(&t, o) != 0) {
        teardown(&t);
        return -1;
    }
    int have_state = stat(t.state_path, &st) == 0;
    if (dist && pg_dist_broadcast(dist, &have_state, sizeof have_state) != 0) {
        teardown(&t);
        return -1;
    }
    if (have_state && load_state(&t) != 0) {
        teardown(&t);
        return -1;
    }
    const char *log_path = t.log_path;
    if (dist && dist->world != h->world_size) {
        teardown(&t);
        return pg_fail("WORLD_SIZE=%ld but the launcher started %d processes", h->world_size,
                       dist->world);
    }
    t.rank = rank;
    logger lg = {rank == 0 ? fopen(log_path, have_state ? "a" : "w") : NULL, !o->quiet};
    if (rank == 0 && !lg.log) {
        teardown(&t);
        return pg_fail("%s: cannot open log", log_path);
    }
    if (have_state)
        logf_(&lg, "resume: from %s at step:%ld/%ld train_time:%.0fms", t.state_path, t.step,
              h->iterations, t.train_ms);
    else
        log_header(&lg, &t, o);

    int W = (int)h->world_size, accum = pg_hparams_grad_accum(h), T = h->model.seq_len;
    size_t local = (size_t)(h->train_batch_tokens / (W * accum));
    pg_acts a = {0};
    pg_real *grad = t.m.be->alloc(t.m.num_params * sizeof *grad);
    pg_real *tmp = W > 1 && !dist ? t.m.be->alloc(t.m.num_params * sizeof *tmp) : NULL;
    int *ids = malloc(local * sizeof *ids), *tgt = malloc(local * sizeof *tgt);
    int *doc_span = malloc(local * sizeof *doc_span);
    int packed = h->train_loader == PG_LOADER_DOCUMENTS, rows = packed ? 1 : (int)(local / (size_t)T);
    uint16_t *chunk = malloc((local + 1) * (size_t)W * (size_t)accum * sizeof *chunk);
    int rc = -1;
    if (!grad || !ids || !tgt || !doc_span || !chunk || (W > 1 && !dist && !tmp) ||
        pg_acts_create(&a, &t.m, rows, packed ? (int)local : T, 1) != 0) {
        pg_fail("out of memory for a micro-batch of %zu tokens", local);
        goto done;
    }
    pg_optim_config oc;
    pg_hparams_optim(h, &oc);
    double cap_ms = pg_train_cap_ms(h);
    if (cap_ms > 0 && h->gptq_reserve_seconds > 0)
        logf_(&lg, "gptq:reserving %gs, effective=%.0fms", h->gptq_reserve_seconds, cap_ms);
    long stop_after = -1;
    pg_progress prog;
    int bar = o->progress && isatty(2) && rank == 0;
    if (bar)
        pg_progress_start(&prog, "train", "steps", (size_t)h->iterations);
    double t0 = pg_now_seconds();
    int loops = h->model.num_loops > 0 ? pg_loops_on(h, t.step, t.train_ms) : 1;
    t.m.loops_off = !loops;
    for (;;) {
        int last = t.step == h->iterations || (stop_after >= 0 && t.step >= stop_after);
        if (last || (h->val_loss_every > 0 && t.step % h->val_loss_every == 0)) {
            t.train_ms += 1000.0 * (pg_now_seconds() - t0);
            pg_eval_result vr;
            if (rank == 0 && validate(&t, &vr) != 0)
                goto done;
            if (rank == 0)
                logf_(&lg, "step:%ld/%ld val_loss:%.4f val_bpb:%.4f train_time:%.0fms "
                           "step_avg:%.2fms",
                      t.step, h->iterations, vr.val_loss, vr.val_bpb, t.train_ms,
                      t.train_ms / (double)(t.step > 1 ? t.step : 1));
            t0 = pg_now_seconds();
        }
        if (last) {
            if (stop_after >= 0 && t.step < h->iterations)
                logf_(&lg, "stopping_early: wallclock_cap train_time:%.0fms step:%ld/%ld",
                      t.train_ms, t.step, h->iterations);
            break;
        }
        double elapsed = t.train_ms + 1000.0 * (pg_now_seconds() - t0);
        double scale = pg_lr_scale(h, t.step, elapsed), train_loss;
        if (train_step(&t, &a, grad, tmp, ids, tgt, doc_span, chunk, dist, &train_loss) != 0)
            goto done;
        /* the recurrence switches on between steps, decided on rank 0 from the next step's
         * fraction (by the clock now when a cap is set) */
        int loops_next = h->model.num_loops > 0
                             ? pg_loops_on(h, t.step + 1, t.train_ms + 1000.0 * (pg_now_seconds() - t0))
                             : 1;
        if (dist) {
            step_control sc = {scale, train_loss, o->stop && *o->stop, loops_next};
            if (pg_dist_broadcast(dist, &sc, sizeof sc) != 0)
                goto done;
            scale = sc.scale;
            train_loss = sc.train_loss;
            loops_next = sc.loops_next;
            /* the other ranks stop when rank 0 does, and only then */
            if (o->stop && (sc.interrupted || dist->rank != 0))
                *o->stop = sc.interrupted;
        }
        if (!isfinite(train_loss)) {
            if (bar)
                fputc('\n', stderr);
            logf_(&lg, "error: non-finite train_loss (%g) at step:%ld/%ld; stopped", train_loss,
                  t.step + 1, h->iterations);
            pg_fail("train_loss is %s at step %ld: stopped; the last good checkpoint is %s",
                    isnan(train_loss) ? "NaN" : "infinite", t.step + 1,
                    stat(t.state_path, &st) == 0 ? t.state_path : "(none written yet)");
            goto done;
        }
        pg_optim_step(&t.opt, &t.m, grad, &oc, scale, pg_muon_momentum(h, t.step));
        t.step++;
        if (loops_next && t.m.loops_off) {
            t.m.loops_off = 0;
            logf_(&lg, "layer_loop:enabled step:%ld frac:%.3f", t.step,
                  pg_train_frac(h, t.step, t.train_ms + 1000.0 * (pg_now_seconds() - t0)));
        }
        if (o->on_step)
            o->on_step(o->ctx, t.step, train_loss);
        double approx_ms = t.train_ms + 1000.0 * (pg_now_seconds() - t0);
        if (h->train_log_every > 0 &&
            (t.step <= 10 || t.step % h->train_log_every == 0 || stop_after >= 0))
            logf_(&lg, "step:%ld/%ld train_loss:%.4f train_time:%.0fms step_avg:%.2fms", t.step,
                  h->iterations, train_loss, approx_ms, approx_ms / (double)t.step);
        if (bar) {
            char extra[96];
            snprintf(extra, sizeof extra, "loss %.4f %.0f tok/s", train_loss,
                     (double)h->train_batch_tokens * (double)t.step / (approx_ms / 1000.0));
            pg_progress_update(&prog, (size_t)t.step, extra);
        }
        if (o->stop && *o->stop && t.step < h->iterations) {
            if (bar)
                fputc('\n', stderr);
            t.train_ms += 1000.0 * (pg_now_seconds() - t0);
            if (save_state(&t) == 0) {
                logf_(&lg, "interrupted: step:%ld/%ld state saved to %s", t.step, h->iterations,
                      t.state_path);
                pg_fail("interrupted at step %ld; state saved to %s", t.step, t.state_path);
            }
            goto done;
        }
        if (cap_ms > 0 && approx_ms >= cap_ms && stop_after < 0)
            stop_after = t.step;
        if (dist && cap_ms > 0 && pg_dist_broadcast(dist, &stop_after, sizeof stop_after) != 0)
            goto done;
        if (h->checkpoint_every > 0 && t.step % h->checkpoint_every == 0 && t.step < h->iterations) {
            t.train_ms += 1000.0 * (pg_now_seconds() - t0);
            if (save_state(&t) != 0)
                goto done;
            logf_(&lg, "checkpoint: step:%ld path:%s", t.step, t.state_path);
            t0 = pg_now_seconds();
        }
    }
    if (bar)
        pg_progress_finish(&prog, NULL);
    if (save_state(&t) != 0)
        goto done;
    t.m.loops_off = 0; /* the model is exported and scored with its recurrence */
    if (t.opt.ema) {
        logf_(&lg, "ema:applying EMA weights (EMA_DECAY=%g)", h->ema_decay);
        t.m.be->copy(t.m.params, t.opt.ema, t.m.num_params * sizeof(pg_real));
    }
    if (rank == 0 && h->gptq_calibration_batches > 0) {
        pg_acts_free(&a); /* the passes' activations take their place */
        if (collect_hessians(&t, &lg) != 0)
            goto done;
    }
    json_t *meta = json_pack("{s:s, s:I, s:I}", "created_by", "pgolf train",
                             "step", (json_int_t)t.step, "seed", (json_int_t)h->seed);
    rc = rank == 0 ? pg_checkpoint_save(t.final_path, &t.m, meta, NULL, 0) : 0;
    json_decref(meta);
    if (rc == 0 && rank == 0) {
        pg_eval_result vr;
        double e0 = pg_now_seconds();
        if ((rc = validate(&t, &vr)) == 0) {
            logf_(&lg, "Serialized model: %lld bytes", (long long)(stat(t.final_path, &st) == 0 ? st.st_size : 0));
            logf_(&lg, "final_fp32 val_loss:%.4f val_bpb:%.4f eval_time:%.0fms", vr.val_loss,
                  vr.val_bpb, 1000.0 * (pg_now_seconds() - e0));
            logf_(&lg, "final_fp32_exact val_loss:%.8f val_bpb:%.8f", vr.val_loss, vr.val_bpb);
        }
    }
done:
    if (lg.log)
        fclose(lg.log);
    if (a.buf)
        pg_acts_free(&a);
    if (grad)
        t.m.be->free(grad);
    if (tmp)
        t.m.be->free(tmp);
    free(ids);
    free(tgt);
    free(doc_span);
    free(chunk);
    teardown(&t);
    return rc;
}
