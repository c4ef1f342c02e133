/* A PyTorch state dict of the baseline family or the records' family (DESIGN §11) as a
 * pgolf model (torchimport.h). */
#include "packager/torchimport.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "kernels/checkpoint.h"
#include "packager/artifact.h"
#include "packager/quantize.h"

#define MAX_LOG_BYTES ((size_t)256 << 20)
#define MAX_LISTED 6 /* names quoted in an error before "and N more" */

static const pg_named_tensor *find(const pg_torch_state *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0)
            return &st->t[i];
    return NULL;
}

/* The settings given by the log or --set, by name, to catch contradictions. */
typedef struct {
    char names[64][32];
    int n;
} given_set;

static void mark_given(given_set *g, const char *name)
{
    if (g->n < 64)
        snprintf(g->names[g->n++], sizeof g->names[0], "%s", name);
}

static int was_given(const given_set *g, const char *name)
{
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->names[i], name) == 0)
            return 1;
    return 0;
}

/* The setting an upper-cased log key names, or NULL for keys that are not model settings. */
static const pg_setting *model_setting(const char *key)
{
    for (size_t i = 0; i < pg_model_settings.n; i++)
        if (strcmp(pg_model_settings.rows[i].name, key) == 0)
            return &pg_model_settings.rows[i];
    return NULL;
}

/* Constants of the records' hyperparameter dump that pgolf's model does not compute
 * with any value but one: another value is an error naming it. */
static const struct {
    const char *key, *want;
} kFixedConstants[] = {{"rope_yarn", "False"},
                       {"tie_embeddings", "True"},
                       {"attn_out_gate_src", "proj"}};

/* The dump's value as pgolf's settings read it: True/False as 1/0, "4.0" for an integer
 * setting as 4. */
static void normalize_value(const pg_setting *s, const char *value, char *out, size_t cap)
{
    char *end;
    double d = strtod(value, &end);
    if (strcmp(value, "True") == 0 || strcmp(value, "False") == 0)
        snprintf(out, cap, "%d", value[0] == 'T');
    else if (s->type == PG_SET_INT && end != value && *end == 0 && fabs(d) < 1e15 &&
             d == floor(d))
        snprintf(out, cap, "%.0f", d);
    else
        snprintf(out, cap, "%s", value); /* as it is: the setting's parser names what is wrong */
}

static int apply_log_token(const char *log, int line, const char *key, const char *value,
                           pg_model_config *c, given_set *g)
{
    char up[32], norm[PG_SETTING_TEXT_MAX];
    size_t n = strlen(key);
    if (n == 0 || n >= sizeof up || !value[0])
        return 0;
    for (size_t i = 0; i < sizeof kFixedConstants / sizeof *kFixedConstants; i++)
        if (strcmp(key, kFixedConstants[i].key) == 0 && strcmp(value, kFixedConstants[i].want))
            return pg_fail("%s:%d: %s: %s is a constant pgolf's model does not compute (it "
                           "needs %s)", log, line, key, value, kFixedConstants[i].want);
    for (size_t i = 0; i <= n; i++)
        up[i] = (char)toupper((unsigned char)key[i]);
    const pg_setting *s = model_setting(up);
    if (!s || strcmp(key, up) == 0) /* logs print the names lower-case */
        return 0;
    normalize_value(s, value, norm, sizeof norm);
    if (pg_config_set(c, up, norm) != 0)
        return pg_fail("%s:%d: %s", log, line, pg_errmsg());
    mark_given(g, up);
    return 0;
}

/* "key:value" tokens and "  key: value" lines of a train log. */
static int hints_from_log(const char *log, pg_model_config *c, given_set *g)
{
    unsigned char *buf;
    size_t len;
    if (pg_read_file(log, MAX_LOG_BYTES, &buf, &len) != 0)
        return -1;
    char *text = (char *)buf;
    int rc = 0, line = 0;
    for (size_t at = 0; at < len && rc == 0;) {
        size_t end = at;
        while (end < len && text[end] != '\n')
            end++;
        line++;
        char l[512];
        size_t ln = end - at < sizeof l - 1 ? end - at : sizeof l - 1;
        memcpy(l, text + at, ln);
        l[ln] = 0;
        at = end + 1;
        char *save = NULL, *tok = strtok_r(l, " \t\r", &save);
        while (tok && rc == 0) {
            char *colon = strchr(tok, ':');
            char *next = strtok_r(NULL, " \t\r", &save);
            if (colon && colon[1] == 0 && next) { /* "key: value" */
                *colon = 0;
                rc = apply_log_token(log, line, tok, next, c, g);
                next = strtok_r(NULL, " \t\r", &save);
            } else if (colon) { /* "key:value" */
                *colon = 0;
                rc = apply_log_token(log, line, tok, colon + 1, c, g);
            }
            tok = next;
        }
    }
    free(buf);
    return rc;
}

static int dims_are(const pg_named_tensor *t, int ndim)
{
    return t && t->ndim == ndim;
}

/* Sets a field inferred from the tensors; a hint that says otherwise is an error. */
static int infer(const char *path, const given_set *g, const char *name, int *field, long v,
                 const char *from)
{
    if (v < 1 || v > 1L << 30)
        return pg_fail("%s: %s would be %ld (from %s)", path, name, v, from);
    if (was_given(g, name) && *field != v)
        return pg_fail("%s: %s=%d was given but the tensors say %ld (%s)", path, name, *field, v, from);
    *field = (int)v;
    return 0;
}

/* Sets a switch of the records' family from whether its tensor is present. */
static int infer_switch(const char *path, const given_set *g, const char *name, int *field,
                        int present, const char *tensor)
{
    if (was_given(g, name) && *field != present)
        return pg_fail("%s: %s=%d was given but the file %s %s", path, name, *field,
                       present ? "has" : "lacks", tensor);
    *field = present;
    return 0;
}

/* The records' options the tensors tell: gated skips, the lanes' lambdas, the output gate
 * (its kind from its name and width) and SmearGate (its window). The rest (loops, RoPE
 * dims, LN scale, XSA, the lanes' start, the sparse gate's scale) only the log or --set
 * can say. */
static int infer_family(const char *path, const pg_torch_state *st, const given_set *g,
                        pg_model_config *c)
{
    const pg_named_tensor *gw = find(st, "blocks.0.attn.attn_gate_w");
    const pg_named_tensor *gp = find(st, "blocks.0.attn.attn_gate_proj.weight");
    const pg_named_tensor *sm = find(st, "smear_gate.weight"), *emb = find(st, "tok_emb.weight");
    long dim = emb ? (long)emb->shape[1] : 0;
    int dense = gw && gw->ndim == 2 && gw->shape[1] == dim &&
                !(was_given(g, "SPARSE_ATTN_GATE_ENABLED") && c->sparse_gate);
    if (infer_switch(path, g, "SKIP_GATES_ENABLED", &c->skip_gates, find(st, "skip_gates") != NULL,
                     "skip_gates") != 0 ||
        infer_switch(path, g, "GATED_ATTN_ENABLED", &c->gated_attn, gw && dense,
                     "a dense attn_gate_w") != 0 ||
        infer_switch(path, g, "SPARSE_ATTN_GATE_ENABLED", &c->sparse_gate, gw && !dense,
                     "a windowed attn_gate_w") != 0 ||
        infer_switch(path, g, "ATTN_OUT_GATE_ENABLED", &c->attn_out_gate, gp != NULL,
                     "attn_gate_proj") != 0 ||
        infer_switch(path, g, "SMEAR_GATE_ENABLED", &c->smear_gate, sm != NULL,
                     "smear_gate.weight") != 0)
        return -1;
    /* every model of the records' family runs leaky_relu(0.5)^2, which their logs do not
     * print */
    int family = find(st, "skip_gates") || find(st, "parallel_post_lambdas") || gw || gp || sm ||
                 c->num_loops || c->xsa_last_n || c->ln_scale || c->rope_dims;
    if (family && !was_given(g, "MLP_ACT"))
        c->mlp_act = PG_MLP_LEAKY_RELU2;
    const pg_named_tensor *win = sm ? sm : gp ? gp : gw && !dense ? gw : NULL;
    if (win && (win->ndim != 2 ||
                infer(path, g, "GATE_WINDOW", &c->gate_window, (long)win->shape[1],
                      "the gate's columns") != 0))
        return win->ndim != 2 ? pg_fail("%s: %s is not a matrix", path, win->name) : -1;
    int lanes = find(st, "parallel_post_lambdas") != NULL;
    if (lanes && c->parallel_start == 0)
        return pg_fail("%s: the file has parallel_post_lambdas but PARALLEL_START_LAYER is 0: "
                       "give the run's value (--log with its hyperparameter dump, or --set)",
                       path);
    if (!lanes && c->parallel_start > 0)
        return pg_fail("%s: PARALLEL_START_LAYER=%d but the file has no parallel lambdas", path,
                       c->parallel_start);
    return 0;
}

static int infer_config(const char *path, const pg_torch_state *st, const given_set *g,
                        pg_model_config *c)
{
    const pg_named_tensor *emb = find(st, "tok_emb.weight"), *qg = find(st, "blocks.0.attn.q_gain"),
                          *ck = find(st, "blocks.0.attn.c_k.weight"), *fc = find(st, "blocks.0.mlp.fc.weight");
    if (!dims_are(emb, 2) || !dims_are(qg, 1) || !dims_are(ck, 2) || !dims_are(fc, 2))
        return pg_fail("%s: not a baseline-family state dict: needs tok_emb.weight, "
                       "blocks.0.attn.q_gain, blocks.0.attn.c_k.weight and blocks.0.mlp.fc.weight "
                       "with the reference's shapes",
                       path);
    long layers = 0;
    for (size_t i = 0; i < st->n; i++) {
        long l;
        if (sscanf(st->t[i].name, "blocks.%ld.", &l) == 1 && l >= 0 && l < 1L << 20 && l + 1 > layers)
            layers = l + 1;
    }
    long dim = (long)emb->shape[1], heads = (long)qg->shape[0];
    if (heads < 1 || dim % heads || ck->shape[1] != dim || fc->shape[1] != dim)
        return pg_fail("%s: tok_emb width %ld does not fit q_gain's %ld heads or c_k/fc widths",
                       path, dim, heads);
    long hd = dim / heads;
    if (ck->shape[0] % hd || fc->shape[0] % dim)
        return pg_fail("%s: c_k rows %lld are not whole heads of %ld, or fc rows %lld not a "
                       "multiple of model_dim %ld",
                       path, (long long)ck->shape[0], hd, (long long)fc->shape[0], dim);
    if (infer_family(path, st, g, c) != 0)
        return -1;
    if (infer(path, g, "VOCAB_SIZE", &c->vocab_size, (long)emb->shape[0], "tok_emb.weight rows") != 0 ||
        infer(path, g, "MODEL_DIM", &c->model_dim, dim, "tok_emb.weight columns") != 0 ||
        infer(path, g, "NUM_LAYERS", &c->num_layers, layers, "blocks.N") != 0 ||
        infer(path, g, "NUM_HEADS", &c->num_heads, heads, "q_gain length") != 0 ||
        infer(path, g, "NUM_KV_HEADS", &c->num_kv_heads, (long)ck->shape[0] / hd, "c_k rows / head_dim") != 0 ||
        infer(path, g, "MLP_MULT", &c->mlp_mult, (long)fc->shape[0] / dim, "fc rows / model_dim") != 0)
        return -1;
    return pg_config_validate(c) != 0 ? pg_fail_prefix(path) : 0;
}

/* Appends a tensor named name holding a copy of rows [r0, r0 + rows) of src. */
static int add_slice(const char *path, pg_torch_state *st, const char *name,
                     const pg_named_tensor *src, size_t r0, size_t rows, size_t cols)
{
    pg_named_tensor *t = realloc(st->t, (st->n + 1) * sizeof *t);
    if (!t)
        return pg_fail("%s: out of memory", path);
    st->t = t;
    t = &st->t[st->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = 2;
    t->shape[0] = (int64_t)rows;
    t->shape[1] = (int64_t)cols;
    t->numel = rows * cols;
    t->data = malloc((t->numel ? t->numel : 1) * sizeof *t->data);
    if (!t->data)
        return pg_fail("%s: out of memory", path);
    memcpy(t->data, src->data + r0 * cols, t->numel * sizeof *t->data);
    st->n++;
    return 0;
}

/* The records' banked weights (qo_bank [2L][D][D]: c_q then proj; kv_bank [2L][KVD][D]:
 * c_k then c_v; mlp_up_bank, mlp_down_bank [L]) as per-layer tensors, and their [L][2][2]
 * lambdas in pgolf's [L][4] rows. */
static int unbank(const char *path, pg_torch_state *st)
{
    static const struct {
        const char *bank, *first, *second; /* second: the bank's upper half, or NULL */
    } kBanks[] = {{"qo_bank", "attn.c_q.weight", "attn.proj.weight"},
                  {"kv_bank", "attn.c_k.weight", "attn.c_v.weight"},
                  {"mlp_up_bank", "mlp.fc.weight", NULL},
                  {"mlp_down_bank", "mlp.proj.weight", NULL}};
    for (size_t b = 0; b < sizeof kBanks / sizeof *kBanks; b++) {
        const pg_named_tensor *bt = find(st, kBanks[b].bank);
        if (!bt)
            continue;
        size_t idx = (size_t)(bt - st->t);
        int halves = kBanks[b].second ? 2 : 1;
        if (bt->ndim != 3 || bt->shape[0] < halves || bt->shape[0] % halves)
            return pg_fail("%s: %s has %d dims and %lld matrices, not [%s][rows][cols]", path,
                           bt->name, bt->ndim, (long long)bt->shape[0],
                           halves == 2 ? "2 x layers" : "layers");
        size_t L = (size_t)bt->shape[0] / (size_t)halves, rows = (size_t)bt->shape[1];
        size_t cols = (size_t)bt->shape[2];
        pg_named_tensor bank = *bt; /* st->t moves as slices are added */
        for (int h = 0; h < halves; h++)
            for (size_t l = 0; l < L; l++) {
                char name[PG_TENSOR_NAME_MAX];
                snprintf(name, sizeof name, "blocks.%zu.%s", l,
                         h ? kBanks[b].second : kBanks[b].first);
                if (find(st, name))
                    return pg_fail("%s: %s is both banked and stored by its name", path, name);
                if (add_slice(path, st, name, &bank, ((size_t)h * L + l) * rows, rows, cols) != 0)
                    return -1;
            }
        free(bank.data);
        st->t[idx] = st->t[--st->n];
    }
    pg_named_tensor *post = (pg_named_tensor *)find(st, "parallel_post_lambdas");
    if (post && post->ndim == 3 && post->shape[1] == 2 && post->shape[2] == 2) {
        post->ndim = 2;
        post->shape[1] = 4;
    }
    return 0;
}

/* Names in `have` but not in the model (unknown) or the other way round (missing). */
static int check_names(const char *path, const pg_torch_state *st, const pg_model *m)
{
    char list[512] = "";
    int unknown = 0, missing = 0;
    for (size_t i = 0; i < st->n; i++)
        if (!pg_model_find_tensor(m, st->t[i].name) && unknown++ < MAX_LISTED) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", st->t[i].name);
        }
    if (unknown)
        return pg_fail("%s: %d tensor%s pgolf's model of this config does not have (another "
                       "architecture, or an option the log did not give?): %s%s",
                       path, unknown, unknown == 1 ? "" : "s", list,
                       unknown > MAX_LISTED ? ", ..." : "");
    for (int i = 0; i < m->num_tensors; i++)
        if (!find(st, m->tensors[i].name) && missing++ < MAX_LISTED) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", m->tensors[i].name);
        }
    if (missing)
        return pg_fail("%s: %d tensor%s of the model %s missing: %s%s", path, missing,
                       missing == 1 ? "" : "s", missing == 1 ? "is" : "are", list,
                       missing > MAX_LISTED ? ", ..." : "");
    return 0;
}

int pg_torch_to_model(const char *path, pg_torch_state *st, const pg_import_hints *h,
                      pg_model *m)
{
    pg_model_config c = pg_config_baseline();
    given_set g = {.n = 0};
    if (h && h->log_path && hints_from_log(h->log_path, &c, &g) != 0)
        return -1;
    for (int i = 0; h && i < h->nsets; i++) {
        const char *eq = strchr(h->sets[i], '=');
        char name[32];
        if (!eq || eq == h->sets[i] || (size_t)(eq - h->sets[i]) >= sizeof name)
            return pg_fail("%s: setting \"%s\" is not NAME=VALUE", path, h->sets[i]);
        snprintf(name, sizeof name, "%.*s", (int)(eq - h->sets[i]), h->sets[i]);
        if (pg_config_set(&c, name, eq + 1) != 0)
            return -1;
        mark_given(&g, name);
    }
    if (unbank(path, st) != 0 || infer_config(path, st, &g, &c) != 0 ||
        pg_model_create(m, &c) != 0)
        return -1;
    if (check_names(path, st, m) != 0) {
        pg_model_free(m);
        return -1;
    }
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *ti = &m->tensors[i];
        const pg_named_tensor *t = find(st, ti->name);
        int ok = t->numel == ti->numel &&
                 (ti->ndim == 1 ? t->ndim == 1 && t->shape[0] == ti->shape[0]
                                : t->ndim == 2 && t->shape[0] == ti->shape[0] && t->shape[1] == ti->shape[1]);
        if (!ok) {
            char have[64] = "[";
            for (int d = 0; d < t->ndim; d++) {
                size_t l = strlen(have);
                snprintf(have + l, sizeof have - l, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
            }
            if (ti->ndim == 1)
                pg_fail("%s: tensor %s has shape %s], the config needs [%d]", path, ti->name, have,
                        ti->shape[0]);
            else
                pg_fail("%s: tensor %s has shape %s], the config needs [%d, %d]", path, ti->name,
                        have, ti->shape[0], ti->shape[1]);
            pg_model_free(m);
            return -1;
        }
        long bad = pg_first_nonfinite(t->data, t->numel);
        if (bad >= 0) {
            pg_fail("%s: tensor %s holds %g at index %ld: non-finite weights", path, ti->name,
                    (double)t->data[bad], bad);
            pg_model_free(m);
            return -1;
        }
        for (size_t k = 0; k < ti->numel; k++)
            m->params[ti->offset + k] = (pg_real)t->data[k];
    }
    return 0;
}

int pg_model_file_load(const char *path, const pg_import_hints *h, pg_model *m, json_t **meta,
                       char *what, size_t what_cap)
{
    unsigned char *buf;
    size_t len;
    char desc[96];
    if (meta)
        *meta = NULL;
    if (pg_read_file(path, PG_MODEL_FILE_MAX_BYTES, &buf, &len) != 0)
        return -1;
    int rc;
    if (len >= 8 && memcmp(buf, PG_CKPT_MAGIC, 8) == 0) {
        snprintf(desc, sizeof desc, "pgolf checkpoint");
        rc = pg_checkpoint_decode(path, buf, len, m, meta, NULL, 0);
    } else if (len >= 8 && memcmp(buf, PG_ART_MAGIC, 8) == 0) {
        snprintf(desc, sizeof desc, "pgolf artifact");
        rc = pg_artifact_decode(path, buf, len, m, NULL);
    } else {
        pg_torch_state st;
        rc = pg_torch_decode(path, buf, len, &st);
        if (rc == 0) {
            snprintf(desc, sizeof desc, "torch %s (%s)", st.format, st.wrapper);
            rc = pg_torch_to_model(path, &st, h, m);
            pg_torch_state_free(&st);
        }
    }
    free(buf);
    if (rc == 0 && what)
        snprintf(what, what_cap, "%s", desc);
    return rc;
}
