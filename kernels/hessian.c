#include "kernels/hessian.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/container.h"
#include "common/err.h"
#include "common/fileio.h"
#include "kernels/model_internal.h"

static const pg_container_kind kHessians = {"PGOLFHES", 1, "Hessians"};

static size_t total_reals(const pg_hessians *hs)
{
    return (size_t)hs->layers * hs->per_layer + (size_t)hs->D * hs->D;
}

static void shape_of(pg_hessians *hs, const pg_model *m)
{
    hs->layers = m->cfg.num_layers;
    hs->D = m->cfg.model_dim;
    hs->F = m->cfg.mlp_mult * m->cfg.model_dim;
    hs->per_layer = 3 * (size_t)hs->D * hs->D + (size_t)hs->F * hs->F;
}

int pg_hessians_create(pg_hessians *hs, const pg_model *m)
{
    memset(hs, 0, sizeof *hs);
    hs->be = m->be;
    shape_of(hs, m);
    size_t bytes = total_reals(hs) * sizeof(pg_real);
    if (!(hs->h = hs->be->alloc(bytes)))
        return pg_fail("out of memory for the GPTQ Hessians (%zu bytes)", bytes);
    hs->be->zero(hs->h, bytes);
    return 0;
}

void pg_hessians_free(pg_hessians *hs)
{
    if (hs->be && hs->h)
        hs->be->free(hs->h);
    memset(hs, 0, sizeof *hs);
}

static pg_real *layer_h(const pg_hessians *hs, int l, int which)
{
    size_t D2 = (size_t)hs->D * hs->D;
    return hs->h + (size_t)l * hs->per_layer + (size_t)which * D2;
}

void pg_hessians_add(pg_hessians *hs, const pg_model *m, pg_acts *a)
{
    const pg_backend *be = hs->be;
    int list[PG_MAX_VIRTUAL_LAYERS], V = pg_model_layer_list(m, list);
    int N = a->B * a->T, D = hs->D, F = hs->F;
    for (int k = 0; k < V; k++) { /* X^T X: linear_bwd's weight gradient with dout = in = X */
        pg_layer_acts s = pg_layer_at(a, k);
        int l = list[k];
        be->linear_bwd(NULL, layer_h(hs, l, PG_HESS_ATTN), s.attn_in, s.attn_in, NULL, N, D, D);
        be->linear_bwd(NULL, layer_h(hs, l, PG_HESS_PROJ), s.att, s.att, NULL, N, D, D);
        be->linear_bwd(NULL, layer_h(hs, l, PG_HESS_FC), s.mlp_in, s.mlp_in, NULL, N, D, D);
        be->linear_bwd(NULL, layer_h(hs, l, PG_HESS_DOWN), s.act, s.act, NULL, N, F, F);
    }
    be->linear_bwd(NULL, hs->h + (size_t)hs->layers * hs->per_layer, a->x_final, a->x_final, NULL,
                   N, D, D);
    hs->passes++;
}

const pg_real *pg_hessian_of(const pg_hessians *hs, const char *name, int *dim)
{
    static const struct {
        const char *suffix;
        int which;
    } kinds[] = {{"attn.c_q.weight", PG_HESS_ATTN}, {"attn.c_k.weight", PG_HESS_ATTN},
                 {"attn.c_v.weight", PG_HESS_ATTN}, {"attn.proj.weight", PG_HESS_PROJ},
                 {"mlp.fc.weight", PG_HESS_FC},     {"mlp.proj.weight", PG_HESS_DOWN}};
    if (strcmp(name, "tok_emb.weight") == 0) {
        *dim = hs->D;
        return hs->h + (size_t)hs->layers * hs->per_layer;
    }
    int l, used = 0;
    if (sscanf(name, "blocks.%d.%n", &l, &used) != 1 || used == 0 || l < 0 || l >= hs->layers)
        return NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(name + used, kinds[i].suffix) == 0) {
            *dim = kinds[i].which == PG_HESS_DOWN ? hs->F : hs->D;
            return layer_h(hs, l, kinds[i].which);
        }
    return NULL;
}

int pg_hessians_save(const pg_hessians *hs, const char *path)
{
    size_t n = total_reals(hs);
    char header[160];
    snprintf(header, sizeof header,
             "{\"layers\": %d, \"model_dim\": %d, \"mlp_dim\": %d, \"passes\": %ld}", hs->layers,
             hs->D, hs->F, hs->passes);
    unsigned char *payload;
    size_t total;
    unsigned char *buf = pg_container_build(&kHessians, header, n * sizeof(float), &payload, &total);
    pg_real *h = buf ? malloc(n * sizeof *h) : NULL;
    if (!h) {
        free(buf);
        return pg_fail("%s: out of memory for the Hessians", path);
    }
    hs->be->to_host(h, hs->h, n * sizeof *h);
    for (size_t i = 0; i < n; i++) {
        float v = (float)(h[i] / (pg_real)(hs->passes > 0 ? hs->passes : 1));
        memcpy(payload + 4 * i, &v, 4);
    }
    free(h);
    pg_container_seal(buf, total);
    int rc = pg_write_file_atomic(path, buf, total);
    free(buf);
    return rc;
}

int pg_hessians_load(pg_hessians *hs, const char *path, const pg_model *m)
{
    memset(hs, 0, sizeof *hs);
    shape_of(hs, m);
    unsigned char *buf = NULL;
    size_t len = 0, plen = 0, n = total_reals(hs);
    const unsigned char *payload;
    json_t *hdr = NULL;
    int rc = -1;
    /* room for a file of another shape, up to 4x, so the header can name the mismatch */
    if (pg_read_file(path, 16 + 4096 + 8 + 16 * n + 32, &buf, &len) != 0 ||
        pg_container_parse(&kHessians, path, buf, len, &hdr, &payload, &plen) != 0)
        goto out;
    if (json_integer_value(json_object_get(hdr, "layers")) != hs->layers ||
        json_integer_value(json_object_get(hdr, "model_dim")) != hs->D ||
        json_integer_value(json_object_get(hdr, "mlp_dim")) != hs->F || plen != n * 4) {
        pg_fail("%s: Hessians of another model shape (the model has %d layers, dim %d, MLP %d)",
                path, hs->layers, hs->D, hs->F);
        goto out;
    }
    hs->be = pg_backend_cpu();
    if (!(hs->h = hs->be->alloc(n * sizeof *hs->h))) {
        pg_fail("%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, payload + 4 * i, 4);
        hs->h[i] = v;
    }
    hs->passes = (long)json_integer_value(json_object_get(hdr, "passes"));
    rc = 0;
out:
    json_decref(hdr);
    free(buf);
    return rc;
}
