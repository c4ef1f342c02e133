/* CPU training-step throughput of the reference: forward + backward, the optimizer step
 * and the two together, for one batch of the tiny config and of the 9x512 baseline
 * shape, with the BLAS (impl=pgolf-c) and with the hand-written product
 * (impl=pgolf-c-handwritten, the CPU backend before the BLAS). Lines:
 *   bench_train impl=<impl> shape=<name> part=<fwd_bwd|optimizer|step> ... tokens_per_s=<r> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/progress.h"
#include "kernels/cpu/gemm.h"
#include "kernels/model.h"
#include "kernels/optim.h"

static void bench(const char *impl, const char *name, pg_model_config c, int B, int T,
                  int reps)
{
    pg_model m;
    pg_acts a;
    pg_optim o;
    if (pg_model_create(&m, &c) != 0 || pg_acts_create(&a, &m, B, T, 1) != 0 ||
        pg_optim_create(&o, &m, 0) != 0) {
        fprintf(stderr, "bench_train: %s\n", pg_errmsg());
        exit(1);
    }
    pg_model_init(&m, 1, PG_INIT_DENSE);
    int N = B * T;
    int *ids = malloc((size_t)N * sizeof *ids), *tgt = malloc((size_t)N * sizeof *tgt);
    for (int i = 0; i < N; i++) {
        ids[i] = (i * 7919) % c.vocab_size;
        tgt[i] = (i * 104729 + 1) % c.vocab_size;
    }
    pg_real *grad = calloc(m.num_params, sizeof *grad);
    pg_optim_config oc = {0.05, 0.04, 0.04, 0.9, 0.95, 1e-8, {5, PG_NS_CLASSIC, 0}, 0};
    double best = 1e30, best_opt = 1e30;
    for (int r = 0; r < reps; r++) {
        memset(grad, 0, m.num_params * sizeof *grad);
        double t0 = pg_now_seconds();
        pg_model_forward(&m, &a, ids, tgt);
        pg_model_backward(&m, &a, ids, tgt, grad, 1.0 / N);
        double t1 = pg_now_seconds();
        pg_optim_step(&o, &m, grad, &oc, 1.0, 0.95);
        double t2 = pg_now_seconds();
        best = t1 - t0 < best ? t1 - t0 : best;
        best_opt = t2 - t1 < best_opt ? t2 - t1 : best_opt;
    }
    printf("bench_train impl=%s shape=%s part=fwd_bwd B=%d T=%d best_s=%.4f tokens_per_s=%.0f\n",
           impl, name, B, T, best, N / best);
    printf("bench_train impl=%s shape=%s part=optimizer best_s=%.4f\n", impl, name, best_opt);
    printf("bench_train impl=%s shape=%s part=step B=%d T=%d best_s=%.4f tokens_per_s=%.0f\n",
           impl, name, B, T, best + best_opt, N / (best + best_opt));
    free(grad);
    free(ids);
    free(tgt);
    pg_optim_free(&o);
    pg_acts_free(&a);
    pg_model_free(&m);
}

int main(void)
{
    /* after: the products through the BLAS; before: the hand-written product */
    const char *impl[] = {"pgolf-c", "pgolf-c-handwritten"};
    for (int k = 0; k < 2; k++) {
        pg_gemm_use_portable(k);
        pg_model_config tiny = pg_config_tiny();
        bench(impl[k], "tiny", tiny, 8, tiny.seq_len, 5);
        pg_model_config base = pg_config_baseline();
        bench(impl[k], "baseline_9x512", base, 1, base.seq_len, 2);
    }
    return 0;
}
