/* The official int8_clean_per_row_v1 file of a pgolf model (torchexport.h). */
#include "packager/torchexport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "common/err.h"
#include "packager/artifact.h"
#include "packager/quantize.h"
#include "packager/torchwrite.h"

#define KEEP_FLOAT_MAX_NUMEL 65536 /* the reference's INT8_KEEP_FLOAT_MAX_NUMEL */

/* ---- the quantized dict ---------------------------------------------------------------- */

typedef struct {
    pg_bytes quantized, scales, dtypes, passthrough, qmeta, orig; /* SETITEMS bodies */
    int nq, no;
    pg_storages st;
} export_state;

static int add_tensor(export_state *s, const pg_tensor_info *t, const float *w)
{
    int64_t shape[2] = {t->shape[0], t->shape[1]};
    int ndim = t->ndim;
    pg_storage *st;
    if (t->numel <= KEEP_FLOAT_MAX_NUMEL) {
        int control = pg_tensor_qgroup(t->name) == PG_GROUP_Q_CONTROL;
        if (!(st = pg_storage_new(&s->st, control ? "FloatStorage" : "HalfStorage")))
            return -1;
        for (size_t i = 0; i < t->numel; i++)
            if (control)
                pg_bytes_put(&st->data, &w[i], 4);
            else
                pg_bytes_f16(&st->data, w[i]);
        pg_pkl_str(&s->passthrough, t->name);
        pg_pkl_tensor(&s->passthrough, st->type, s->st.n - 1, ndim, shape);
        if (!control) {
            pg_pkl_str(&s->orig, t->name);
            pg_pkl_str(&s->orig, "float32");
            s->no++;
        }
        return 0;
    }
    pg_storage *qs = pg_storage_new(&s->st, "CharStorage");
    if (!qs)
        return -1;
    int qkey = s->st.n - 1;
    if (ndim == 2) { /* pgolf's int8_row is the reference's per-row export */
        size_t rows = (size_t)shape[0], cols = (size_t)shape[1];
        uint8_t *buf = malloc(pg_qscheme_bytes(PG_Q_INT8_ROW, rows, cols));
        if (!buf || pg_quantize(PG_Q_INT8_ROW, w, rows, cols, buf) != 0) {
            free(buf);
            return -1;
        }
        pg_bytes_put(&s->st.st[qkey].data, buf, rows * cols);
        if (!(st = pg_storage_new(&s->st, "HalfStorage"))) {
            free(buf);
            return -1;
        }
        pg_bytes_put(&st->data, buf + rows * cols, 2 * rows);
        free(buf);
        pg_pkl_str(&s->scales, t->name);
        pg_pkl_tensor(&s->scales, "HalfStorage", s->st.n - 1, 1, shape);
        pg_pkl_str(&s->qmeta, t->name);
        pg_bytes_op(&s->qmeta, '}');
        pg_bytes_op(&s->qmeta, '(');
        pg_pkl_str(&s->qmeta, "scheme");
        pg_pkl_str(&s->qmeta, "per_row");
        pg_pkl_str(&s->qmeta, "axis");
        pg_pkl_int(&s->qmeta, 0);
        pg_bytes_op(&s->qmeta, 'u');
    } else { /* one float32 scale for the tensor */
        int8_t *q = malloc(t->numel ? t->numel : 1);
        float scale;
        if (!q || pg_quantize_int8_tensor(w, t->numel, q, &scale) != 0) {
            free(q);
            return -1;
        }
        pg_bytes_put(&s->st.st[qkey].data, q, t->numel);
        free(q);
        if (!(st = pg_storage_new(&s->st, "FloatStorage")))
            return -1;
        pg_bytes_put(&st->data, &scale, 4);
        pg_pkl_str(&s->scales, t->name);
        pg_pkl_tensor(&s->scales, "FloatStorage", s->st.n - 1, 0, shape);
    }
    pg_pkl_str(&s->quantized, t->name);
    pg_pkl_tensor(&s->quantized, "CharStorage", qkey, ndim, shape);
    pg_pkl_str(&s->dtypes, t->name);
    pg_pkl_str(&s->dtypes, "float32");
    s->nq++;
    return 0;
}

static void free_state(export_state *s)
{
    free(s->quantized.p);
    free(s->scales.p);
    free(s->dtypes.p);
    free(s->passthrough.p);
    free(s->qmeta.p);
    free(s->orig.p);
    pg_storages_free(&s->st);
}

int pg_torch_export_int8(const pg_model *m, uint8_t **out, size_t *out_len)
{
    export_state s;
    memset(&s, 0, sizeof s);
    pg_bytes pkl = {0}, zip = {0};
    int rc = -1;
    if (!pg_config_is_baseline_graph(&m->cfg))
        return pg_fail("the int8_clean_per_row_v1 file is the baseline train_gpt.py's format; "
                       "this model uses options of the records' family (DESIGN 11: ROPE_DIMS, LN_SCALE, "
                       "XSA_LAST_N, NUM_LOOPS, PARALLEL_START_LAYER, the gates or SmearGate), "
                       "which that script cannot load");
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        if (add_tensor(&s, t, m->params + t->offset) != 0)
            goto done;
    }
    const pg_bytes *parts[] = {&s.quantized, &s.scales, &s.dtypes, &s.passthrough, &s.qmeta, &s.orig};
    if (pg_storages_oom(&s.st))
        goto done;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i]->oom)
            goto done;
    uint8_t proto[2] = {0x80, 2};
    pg_bytes_put(&pkl, proto, 2);
    pg_bytes_op(&pkl, '}');
    pg_bytes_op(&pkl, '(');
    pg_pkl_str(&pkl, "__quant_format__");
    pg_pkl_str(&pkl, "int8_clean_per_row_v1");
    pg_pkl_dict_item(&pkl, "quantized", &s.quantized);
    pg_pkl_dict_item(&pkl, "scales", &s.scales);
    pg_pkl_dict_item(&pkl, "dtypes", &s.dtypes);
    pg_pkl_dict_item(&pkl, "passthrough", &s.passthrough);
    if (s.qmeta.n)
        pg_pkl_dict_item(&pkl, "qmeta", &s.qmeta);
    if (s.no)
        pg_pkl_dict_item(&pkl, "passthrough_orig_dtypes", &s.orig);
    pg_bytes_op(&pkl, 'u');
    pg_bytes_op(&pkl, '.');
    if (pkl.oom || pg_torch_zip(&pkl, &s.st, &zip) != 0)
        goto done;
    uLongf zn = compressBound((uLong)zip.n);
    uint8_t *z = malloc(zn);
    if (!z || compress2(z, &zn, zip.p, (uLong)zip.n, 9) != Z_OK) {
        free(z);
        goto done;
    }
    *out = z;
    *out_len = zn;
    rc = 0;
done:
    free(pkl.p);
    free(zip.p);
    free_state(&s);
    return rc == 0 ? 0 : pg_fail("exporting int8_clean_per_row_v1: out of memory or zip error");
}
