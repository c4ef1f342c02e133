/* CPU forward throughput of the reference model: tokens/s for one batch of the tiny
 * config, of the 9x512 baseline shape and of the records' 11x512 core (DESIGN §11: SP8192,
 * MLP x4, 17 virtual layers, lanes from layer 8, XSA, gates, SmearGate), with the BLAS
 * (impl=pgolf-c) and with the hand-written product (impl=pgolf-c-handwritten). One line
 * per shape:
 *   bench_forward impl=<impl> shape=<name> B=<b> T=<t> params=<n> best_s=<s> tokens_per_s=<r> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/progress.h"
#include "kernels/cpu/gemm.h"
#include "kernels/model.h"

static void bench(const char *impl, const char *name, pg_model_config c, int B, int T,
                  int reps)
{
    pg_model m;
    pg_acts a;
    if (pg_model_create(&m, &c) != 0 || pg_acts_create(&a, &m, B, T, 0) != 0) {
        fprintf(stderr, "bench_forward: %s\n", pg_errmsg());
        exit(1);
    }
    pg_model_init(&m, 1, PG_INIT_DENSE);
    int *ids = malloc((size_t)B * T * sizeof *ids), *tgt = malloc((size_t)B * T * sizeof *tgt);
    for (int i = 0; i < B * T; i++) {
        ids[i] = (i * 7919) % c.vocab_size;
        tgt[i] = (i * 104729 + 1) % c.vocab_size;
    }
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = pg_now_seconds();
        pg_model_forward(&m, &a, ids, tgt);
        double dt = pg_now_seconds() - t0;
        best = dt < best ? dt : best;
    }
    printf("bench_forward impl=%s shape=%s B=%d T=%d params=%zu best_s=%.4f tokens_per_s=%.0f\n",
           impl, name, B, T, m.num_params, best, (double)B * T / best);
    free(ids);
    free(tgt);
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
        pg_model_config rec = base;
        rec.vocab_size = 8192;
        rec.num_layers = 11;
        rec.mlp_mult = 4;
        rec.mlp_act = PG_MLP_LEAKY_RELU2;
        rec.rope_dims = 16;
        rec.ln_scale = 1;
        rec.xsa_last_n = 11;
        rec.num_loops = 2;
        rec.loop_start = 3;
        rec.loop_end = 5;
        rec.parallel_start = 8;
        rec.skip_gates = 1;
        rec.sparse_gate = 1;
        rec.sparse_gate_scale = 0.5f;
        rec.smear_gate = 1;
        rec.seq_len = 2048;
        bench(impl[k], "records_11x512", rec, 1, 512, 2);
    }
    return 0;
}
