/* The April records' {"w","m"} artifact of a pgolf model (torchexport_records.h). */
#include "packager/torchexport_records.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "packager/codec.h"
#include "packager/gptq.h"
#include "packager/quantize.h"
#include "packager/torchwrite.h"

#define IROW(n, f, d, lo, hi, h)                                                              \
    {.name = n, .type = PG_SET_INT, .offset = offsetof(pg_records_quant, f), .def = d,          \
     .min = lo, .max = hi, .readers = PG_READ_RUN, .help = h}
#define DROW(n, f, d, h)                                                                      \
    {.name = n, .type = PG_SET_DOUBLE, .offset = offsetof(pg_records_quant, f), .def = d,       \
     .min = 0, .max = PG_SET_INF, .open = PG_SET_MIN_OPEN, .readers = PG_READ_RUN, .help = h}
static const pg_setting kRows[] = {
    IROW("MATRIX_BITS", matrix_bits, "6", 2, 8, "GPTQ bits of the block matrices"),
    IROW("EMBED_BITS", embed_bits, "8", 2, 8, "GPTQ bits of tok_emb"),
    DROW("MATRIX_CLIP_SIGMAS", matrix_clip, "12.85", "SD clip of matrices outside attn and mlp"),
    DROW("EMBED_CLIP_SIGMAS", embed_clip, "20", "SD clip of tok_emb: scale = k std(row) / qmax"),
    DROW("MLP_CLIP_SIGMAS", mlp_clip, "10", "SD clip of the mlp matrices"),
    DROW("ATTN_CLIP_SIGMAS", attn_clip, "13", "SD clip of the attention matrices"),
    IROW("LQER_ENABLED", lqer_enabled, "1", 0, 1, "1: low-rank corrections of the largest errors"),
    IROW("LQER_RANK", lqer_rank, "4", 1, 1e6, "rank of each correction"),
    IROW("LQER_TOP_K", lqer_top_k, "3", 0, 1e6, "how many tensors get one (largest |E|_F first)"),
    IROW("LQER_FACTOR_BITS", lqer_factor_bits, "4", 2, 8, "bits of the symmetric factors"),
    IROW("LQER_ASYM_ENABLED", lqer_asym_enabled, "1", 0, 1,
         "1: int2 A / int4 grouped B where B's size allows"),
    IROW("LQER_ASYM_GROUP", lqer_asym_group, "64", 1, 1e6, "group of B's asymmetric scales"),
    IROW("GATED_ATTN_QUANT_GATE", quant_gate, "0", 0, 1, "1: attention gates int8 per row"),
    {.name = "KEEP_FLOAT_MAX_NUMEL", .type = PG_SET_LONG,
     .offset = offsetof(pg_records_quant, keep_float_max_numel), .def = "65536", .min = 0,
     .max = PG_SET_INF, .readers = PG_READ_RUN,
     .help = "tensors of at most this many values stay float16 (pgolf's name for the records' "
             "65,536)"},
};
#undef IROW
#undef DROW

const pg_settings_table pg_records_quant_settings = {
    "the records' export (pgolf export --format records)", kRows, sizeof kRows / sizeof kRows[0], 0};

void pg_records_quant_default(pg_records_quant *q)
{
    pg_settings_bind b = {&pg_records_quant_settings, q};
    memset(q, 0, sizeof *q);
    pg_settings_defaults(&b, 1);
}

int pg_records_quant_record(pg_records_quant *q)
{
    /* the latest record's log (2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack) */
    static const char *const kRecord[] = {
        "MATRIX_BITS=6", "EMBED_BITS=7", "MATRIX_CLIP_SIGMAS=12.85", "EMBED_CLIP_SIGMAS=14",
        "MLP_CLIP_SIGMAS=11.5", "ATTN_CLIP_SIGMAS=13", "LQER_ENABLED=1", "LQER_RANK=4",
        "LQER_TOP_K=3", "LQER_FACTOR_BITS=4", "LQER_ASYM_ENABLED=1", "LQER_ASYM_GROUP=64",
        "GATED_ATTN_QUANT_GATE=1"};
    pg_settings_bind b = {&pg_records_quant_settings, q};
    pg_records_quant_default(q);
    for (size_t i = 0; i < sizeof kRecord / sizeof kRecord[0]; i++) {
        char name[64];
        const char *eq = strchr(kRecord[i], '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq - kRecord[i]), kRecord[i]);
        if (pg_settings_set(&b, 1, name, eq + 1) != 0)
            return -1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

typedef struct {
    pg_bytes w, m; /* the two dicts' SETITEMS bodies */
    pg_storages st;
} writer;

/* "name" -> a tensor of `type` holding `bytes` */
static int put_tensor(writer *wr, const char *name, const char *type, const void *data,
                      size_t bytes, int ndim, const int64_t *shape)
{
    pg_storage *s = pg_storage_new(&wr->st, type);
    if (!s)
        return -1;
    pg_bytes_put(&s->data, data, bytes);
    pg_pkl_str(&wr->w, name);
    pg_pkl_tensor(&wr->w, type, wr->st.n - 1, ndim, shape);
    return 0;
}

static int put_f16(writer *wr, const char *name, const uint16_t *h, size_t n, int ndim,
                   const int64_t *shape)
{
    return put_tensor(wr, name, "HalfStorage", h, 2 * n, ndim, shape);
}

#define PG_KIND_MAX 48 /* "gptq (int8)+lqer_asym" and room */

/* A GPTQ'd tensor kept for the LQER pass: its error and its norm. */
typedef struct {
    const pg_tensor_info *t;
    float *err;
    double norm;
    char *kind; /* the tensor's entry of the kinds */
} candidate;

static int by_norm_desc(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->norm != y->norm)
        return x->norm < y->norm ? 1 : -1;
    return x->t < y->t ? -1 : x->t > y->t; /* the model's order */
}

/* LQER's factors of c's error, packed and written; the kind gains its suffix. */
static int add_lqer(writer *wr, const pg_records_quant *q, candidate *c)
{
    int rows = c->t->shape[0], cols = c->t->shape[1], rank = q->lqer_rank;
    int k = rows < cols ? rows : cols, r = rank < k ? rank : k;
    size_t na = (size_t)rows * r, nb = (size_t)r * cols;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
    int8_t *qa = malloc(na), *qb = malloc(nb);
    uint16_t *sa = malloc(((size_t)rows + 1) * sizeof *sa), *sb = malloc((nb + 1) * sizeof *sb);
    int rc = -1;
    if (!A || !B || !qa || !qb || !sa || !sb) {
        pg_fail("out of memory for LQER of %s", c->t->name);
        goto out;
    }
    if (pg_lqer_factors(c->err, rows, cols, rank, A, B) != r)
        goto out;
    int asym = q->lqer_asym_enabled && nb % (size_t)q->lqer_asym_group == 0;
    char key[256];
    int64_t sh_a[2] = {rows, r}, sh_b[2] = {r, cols}, n_sa = asym ? 1 : rows;
    int64_t n_sb = asym ? (int64_t)(nb / (size_t)q->lqer_asym_group) : r;
    const char *sfx = asym ? "_a" : "";
    if (asym)
        pg_lqer_pack_asym(A, B, rows, r, cols, q->lqer_asym_group, qa, sa, qb, sb);
    else
        pg_lqer_pack_sym(A, B, rows, r, cols, q->lqer_factor_bits, qa, sa, qb, sb);
    snprintf(key, sizeof key, "%s.lqA%s", c->t->name, sfx);
    rc = put_tensor(wr, key, "CharStorage", qa, na, 2, sh_a);
    snprintf(key, sizeof key, "%s.lqAs%s", c->t->name, sfx);
    rc = rc ? rc : put_f16(wr, key, sa, (size_t)n_sa, asym ? 0 : 1, &n_sa);
    snprintf(key, sizeof key, "%s.lqB%s", c->t->name, sfx);
    rc = rc ? rc : put_tensor(wr, key, "CharStorage", qb, nb, 2, sh_b);
    snprintf(key, sizeof key, "%s.lqBs%s", c->t->name, sfx);
    rc = rc ? rc : put_f16(wr, key, sb, (size_t)n_sb, 1, &n_sb);
    strcat(c->kind, asym ? "+lqer_asym" : "+lqer"); /* PG_KIND_MAX has room */
out:
    free(A), free(B), free(qa), free(qb), free(sa), free(sb);
    return rc;
}

/* GPTQ of one matrix on its Hessian; the error kept for LQER. */
static int add_gptq(writer *wr, const pg_records_quant *q, const pg_hessians *hs,
                    const pg_tensor_info *t, const float *w, candidate *c)
{
    int dim = 0, rows = t->shape[0], cols = t->shape[1];
    const pg_real *H = pg_hessian_of(hs, t->name, &dim);
    if (!H || dim != cols)
        return pg_fail("%s: no Hessian for it (GPTQ quantizes the attention and MLP matrices "
                       "and tok_emb; raise KEEP_FLOAT_MAX_NUMEL to keep it float16)", t->name);
    int embed = strcmp(t->name, "tok_emb.weight") == 0, bits = embed ? q->embed_bits : q->matrix_bits;
    double cs = embed ? q->embed_clip
                : strstr(t->name, ".mlp.") ? q->mlp_clip
                : strstr(t->name, ".attn.") ? q->attn_clip
                                            : q->matrix_clip;
    size_t n = t->numel;
    int8_t *qv = malloc(n);
    uint16_t *s = malloc((size_t)rows * sizeof *s);
    float *err = malloc(n * sizeof *err);
    int rc = -1;
    if (!qv || !s || !err) {
        pg_fail("out of memory for GPTQ of %s", t->name);
        goto out;
    }
    if (pg_gptq_quantize(w, rows, cols, H, cs, bits, qv, s) != 0) {
        pg_fail_prefix(t->name);
        goto out;
    }
    char key[256];
    int64_t shape[2] = {rows, cols}, nr = rows;
    snprintf(key, sizeof key, "%s.q", t->name);
    rc = put_tensor(wr, key, "CharStorage", qv, n, 2, shape);
    snprintf(key, sizeof key, "%s.scale", t->name);
    rc = rc ? rc : put_f16(wr, key, s, (size_t)rows, 1, &nr);
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        err[i] = w[i] - (float)qv[i] * pg_f16_to_f32(s[i / (size_t)cols]);
        ss += (double)err[i] * err[i];
    }
    c->t = t;
    c->err = err;
    c->norm = sqrt(ss);
    snprintf(c->kind, PG_KIND_MAX, "gptq (int%d)", bits);
    err = NULL;
out:
    free(qv), free(s), free(err);
    return rc;
}

/* The records' shape of a pgolf tensor: the lanes' lambdas are [L][2][2] there. */
static int records_shape(const pg_tensor_info *t, int64_t *shape)
{
    if (strcmp(t->name, "parallel_post_lambdas") == 0) {
        shape[0] = t->shape[0], shape[1] = 2, shape[2] = 2;
        return 3;
    }
    shape[0] = t->shape[0], shape[1] = t->shape[1];
    return t->ndim;
}

static int add_plain(writer *wr, const pg_tensor_info *t, const float *w)
{
    pg_storage *s = pg_storage_new(&wr->st, "HalfStorage");
    if (!s)
        return -1;
    for (size_t i = 0; i < t->numel; i++)
        pg_bytes_f16(&s->data, w[i]);
    int64_t shape[3];
    int nd = records_shape(t, shape);
    pg_pkl_str(&wr->w, t->name);
    pg_pkl_tensor(&wr->w, "HalfStorage", wr->st.n - 1, nd, shape);
    return 0;
}

static int add_gate_rows(writer *wr, const pg_tensor_info *t, const float *w)
{
    int rows = t->shape[0], cols = t->shape[1];
    int8_t *qv = malloc(t->numel);
    uint16_t *s = malloc((size_t)rows * sizeof *s);
    int rc = -1;
    if (qv && s) {
        for (int r = 0; r < rows; r++) { /* symmetric int8: max |row| / 127 */
            float m = 0;
            for (int j = 0; j < cols; j++)
                m = fmaxf(m, fabsf(w[(size_t)r * cols + j]));
            s[r] = pg_f32_to_f16((m > 1e-10f ? m : 1e-10f) / 127.0f);
            float sf = pg_f16_to_f32(s[r]);
            for (int j = 0; j < cols; j++) {
                float v = rintf(w[(size_t)r * cols + j] / sf);
                qv[(size_t)r * cols + j] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
            }
        }
        char key[256];
        int64_t shape[2] = {rows, cols}, nr = rows;
        snprintf(key, sizeof key, "%s.gq", t->name);
        rc = put_tensor(wr, key, "CharStorage", qv, t->numel, 2, shape);
        snprintf(key, sizeof key, "%s.gs", t->name);
        rc = rc ? rc : put_f16(wr, key, s, (size_t)rows, 1, &nr);
    }
    free(qv), free(s);
    return rc;
}

/* The records' summary: per kind (in the order the kinds first occur), the tensors' names
 * with blocks.N as blocks, each once, sorted. */
static void log_kinds(FILE *log, const pg_model *m, char (*kinds)[PG_KIND_MAX])
{
    size_t nt = (size_t)m->num_tensors;
    fprintf(log, "Quantized weights:\n");
    for (size_t i = 0; i < nt; i++) {
        int first = 1;
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(kinds[j], kinds[i]) != 0;
        if (!first)
            continue;
        fprintf(log, "  %s:", kinds[i]);
        char shown[64][96];
        int ns = 0;
        for (size_t j = i; j < nt; j++) {
            if (strcmp(kinds[j], kinds[i]) != 0)
                continue;
            char s[96];
            int l, used = 0;
            if (sscanf(m->tensors[j].name, "blocks.%d.%n", &l, &used) == 1 && used > 0)
                snprintf(s, sizeof s, "blocks.%s", m->tensors[j].name + used);
            else
                snprintf(s, sizeof s, "%s", m->tensors[j].name);
            int seen = 0;
            for (int k = 0; k < ns && !seen; k++)
                seen = strcmp(shown[k], s) == 0;
            if (!seen && ns < 64)
                snprintf(shown[ns++], sizeof shown[0], "%s", s);
        }
        qsort(shown, (size_t)ns, sizeof shown[0], (int (*)(const void *, const void *))strcmp);
        for (int k = 0; k < ns; k++)
            fprintf(log, "%s %s", k ? "," : "", shown[k]);
        fputc('\n', log);
    }
}

int pg_torch_export_records(const pg_model *m, const pg_hessians *hs, const pg_records_quant *q,
                            FILE *log, uint8_t **out, size_t *out_len)
{
    writer wr;
    memset(&wr, 0, sizeof wr);
    size_t nt = (size_t)m->num_tensors;
    candidate *cand = calloc(nt, sizeof *cand), *sorted = calloc(nt, sizeof *sorted);
    char(*kinds)[PG_KIND_MAX] = calloc(nt, sizeof *kinds);
    int nc = 0, rc = -1;
    pg_bytes pkl = {0}, zip = {0}, shuf = {0};
    if (!cand || !sorted || !kinds) {
        pg_fail("out of memory for the records' export");
        goto done;
    }
    for (size_t i = 0; i < nt; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        const float *w = m->params + t->offset;
        int r;
        if (q->quant_gate && t->ndim == 2 && ends_with(t->name, ".attn_gate_w") &&
            t->numel >= 32 && t->numel <= 8192) {
            r = add_gate_rows(&wr, t, w);
            snprintf(kinds[i], PG_KIND_MAX, "gate_int8_row");
        } else if ((long)t->numel <= q->keep_float_max_numel || t->ndim != 2) {
            r = add_plain(&wr, t, w);
            snprintf(kinds[i], PG_KIND_MAX, "passthrough (float16)");
        } else {
            cand[nc].kind = kinds[i];
            r = add_gptq(&wr, q, hs, t, w, &cand[nc++]);
        }
        if (r != 0)
            goto done;
    }
    /* LQER on the largest errors (ties: the model's order) */
    memcpy(sorted, cand, (size_t)nc * sizeof *sorted);
    qsort(sorted, (size_t)nc, sizeof *sorted, by_norm_desc);
    for (int i = 0; q->lqer_enabled && i < nc && i < q->lqer_top_k; i++)
        if (add_lqer(&wr, q, &sorted[i]) != 0)
            goto done;
    for (size_t i = 0; i < nt; i++) {
        pg_pkl_str(&wr.m, m->tensors[i].name);
        pg_pkl_str(&wr.m, kinds[i]);
    }
    if (log)
        log_kinds(log, m, kinds);
    uint8_t proto[2] = {0x80, 2};
    pg_bytes_put(&pkl, proto, 2);
    pg_bytes_op(&pkl, '}');
    pg_bytes_op(&pkl, '(');
    pg_pkl_dict_item(&pkl, "w", &wr.w);
    pg_pkl_dict_item(&pkl, "m", &wr.m);
    pg_bytes_op(&pkl, 'u');
    pg_bytes_op(&pkl, '.');
    if (pkl.oom || wr.w.oom || wr.m.oom || pg_storages_oom(&wr.st) ||
        pg_torch_zip(&pkl, &wr.st, &zip) != 0) {
        pg_fail("the records' export: out of memory or zip error");
        goto done;
    }
    /* "BSHF", stride 2, then the bytes grouped by position modulo 2 */
    pg_bytes_put(&shuf, "BSHF\x02", 5);
    for (size_t k = 0; k < 2; k++)
        for (size_t i = k; i < zip.n; i += 2)
            pg_bytes_op(&shuf, zip.p[i]);
    pg_codec br = {PG_CODEC_BROTLI, 11, 0};
    if (shuf.oom || pg_compress(&br, shuf.p, shuf.n, out, out_len) != 0) {
        pg_fail("the records' export: brotli failed");
        goto done;
    }
    rc = 0;
done:
    for (int i = 0; i < nc; i++)
        free(cand[i].err);
    free(cand), free(sorted), free(kinds);
    free(pkl.p), free(zip.p), free(shuf.p), free(wr.w.p), free(wr.m.p);
    pg_storages_free(&wr.st);
    return rc;
}
