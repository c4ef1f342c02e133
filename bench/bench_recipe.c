/* CPU training-step throughput of the latest record's core (`--preset record`'s model: 11
 * layers of 512, the loop, lanes, gates, SmearGate) on one document-packed row of
 * TRAIN_SEQ_LEN tokens (a BOS every 512), with the records' optimizers (MuonEq-R with Polar
 * Express, AdamW decays, clipping, the EMA) and, as the named baseline of the optimizer,
 * the March reference's (Muon with Newton-Schulz-5, Adam). Lines:
 *   bench_train impl=<impl> shape=records_11x512 part=<fwd_bwd|optimizer|step> ... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/progress.h"
#include "kernels/eval.h"
#include "kernels/model.h"
#include "kernels/optim.h"
#include "train/hparams.h"

int main(void)
{
    pg_hparams h;
    if (pg_hparams_record(&h) != 0) {
        fprintf(stderr, "bench_recipe: %s\n", pg_errmsg());
        return 1;
    }
    int T = h.model.seq_len, reps = 2;
    pg_model m;
    pg_acts a;
    pg_optim o;
    if (pg_model_create(&m, &h.model) != 0 || pg_acts_create(&a, &m, 1, T, 1) != 0 ||
        pg_optim_create(&o, &m, 1) != 0) {
        fprintf(stderr, "bench_recipe: %s\n", pg_errmsg());
        return 1;
    }
    pg_model_init(&m, 1, PG_INIT_DENSE);
    pg_optim_ema_start(&o, &m);
    int *ids = malloc((size_t)T * sizeof *ids), *tgt = malloc((size_t)T * sizeof *tgt);
    int *span = malloc((size_t)T * sizeof *span);
    for (int i = 0; i < T; i++) {
        ids[i] = i % 512 == 0 ? h.model.bos_id : 2 + (i * 7919) % (h.model.vocab_size - 2);
        tgt[i] = (i * 104729 + 1) % h.model.vocab_size;
    }
    pg_doc_spans(ids, T, h.model.bos_id, T, span);
    pg_acts_set_spans(&a, span);
    pg_real *grad = calloc(m.num_params, sizeof *grad);
    pg_optim_config rec, march;
    pg_hparams_optim(&h, &rec);
    march = rec;
    march.ns = (pg_muon_ns){5, PG_NS_CLASSIC, 0};
    march.embed_wd = march.muon_wd = march.adam_wd = 0;
    march.grad_clip = 0;
    double best = 1e30, best_rec = 1e30, best_march = 1e30;
    for (int r = 0; r < reps; r++) {
        memset(grad, 0, m.num_params * sizeof *grad);
        double t0 = pg_now_seconds();
        pg_model_forward(&m, &a, ids, tgt);
        pg_model_backward(&m, &a, ids, tgt, grad, 1.0 / T);
        double t1 = pg_now_seconds();
        pg_optim_step(&o, &m, grad, &rec, 1.0, 0.97);
        double t2 = pg_now_seconds();
        pg_real *ema = o.ema;
        o.ema = NULL; /* the March optimizer keeps none */
        pg_optim_step(&o, &m, grad, &march, 1.0, 0.95);
        double t3 = pg_now_seconds();
        o.ema = ema;
        best = t1 - t0 < best ? t1 - t0 : best;
        best_rec = t2 - t1 < best_rec ? t2 - t1 : best_rec;
        best_march = t3 - t2 < best_march ? t3 - t2 : best_march;
        pg_optim_free(&o); /* fresh state (and EMA) each repetition */
        if (pg_optim_create(&o, &m, 1) != 0) {
            fprintf(stderr, "bench_recipe: %s\n", pg_errmsg());
            return 1;
        }
        pg_optim_ema_start(&o, &m);
    }
    const char *shape = "records_11x512";
    printf("bench_train impl=pgolf-c shape=%s part=fwd_bwd B=1 T=%d best_s=%.4f tokens_per_s=%.0f\n",
           shape, T, best, T / best);
    printf("bench_train impl=pgolf-c shape=%s part=optimizer recipe=records best_s=%.4f\n", shape,
           best_rec);
    printf("bench_train impl=pgolf-c shape=%s part=optimizer recipe=march best_s=%.4f\n", shape,
           best_march);
    printf("bench_train impl=pgolf-c shape=%s part=step B=1 T=%d best_s=%.4f tokens_per_s=%.0f\n",
           shape, T, best + best_rec, T / (best + best_rec));
    printf("ratio bench_train %s optimizer records/march seconds = %.2f\n", shape,
           best_rec / best_march);
    free(ids), free(tgt), free(span), free(grad);
    pg_optim_free(&o);
    pg_acts_free(&a);
    pg_model_free(&m);
    return 0;
}
