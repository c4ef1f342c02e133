/* pgolf package: a records folder from pgolf training runs. Each run's final.ckpt is
 * quantized and compressed here and the artifact scored on --data with --tokenizer (the
 * standard eval, train_gpt.py's roundtrip line); pg_package writes the folder from those
 * artifacts and scores, with the first run's resolved configuration baked into
 * train_gpt.py. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "common/err.h"
#include "common/fileio.h"
#include "dataset/shard.h"
#include "dataset/tokenizer.h"
#include "kernels/checkpoint.h"
#include "kernels/eval.h"
#include "packager/artifact.h"
#include "packager/logparse.h"
#include "packager/package.h"

/* The standard eval of the dequantized artifact (the bytes as written). */
static int score_artifact(const char *name, pg_package_seed *s, const pg_tokenizer *tok,
                          const char *data)
{
    pg_model q;
    if (pg_artifact_decode(name, s->artifact, s->artifact_len, &q, NULL) != 0)
        return -1;
    pg_bpb_lut lut = {0};
    uint16_t *val = NULL;
    size_t nval;
    pg_eval_result res;
    pg_eval_opts eo = {.mode = PG_EVAL_STANDARD, .seq_len = q.cfg.seq_len, .batch = 8};
    int rc = pg_bpb_lut_build(tok, q.cfg.vocab_size, &lut) == 0 &&
                     pg_shards_load(data, "val", q.cfg.vocab_size, &val, &nval) == 0 &&
                     pg_eval_run(&q, val, nval, &lut, &eo, &res, NULL) == 0
                 ? 0
                 : -1;
    if (rc == 0) {
        s->val_loss = res.val_loss;
        s->val_bpb = res.val_bpb;
    }
    free(val);
    pg_bpb_lut_free(&lut);
    pg_model_free(&q);
    return rc;
}

/* One run: RUN_DIR/final.ckpt quantized with the plan, its artifact and score. */
static int prepare_seed(const char *dir, const pg_quant_plan *plan, const pg_tokenizer *tok,
                        const char *data, pg_package_seed *s, unsigned char **art)
{
    char *ck = pg_path_join(dir, "final.ckpt");
    if (!ck)
        return pg_fail("%s: out of memory", dir);
    pg_model m;
    pg_pack_stats st;
    int rc = pg_checkpoint_load(ck, &m, NULL);
    if (rc == 0) {
        rc = pg_artifact_encode(ck, &m, plan, &st, art);
        pg_model_free(&m);
    }
    if (rc == 0) {
        s->run_dir = dir;
        s->artifact = *art;
        s->artifact_len = st.file_bytes;
        rc = score_artifact(ck, s, tok, data);
    }
    free(ck);
    return rc;
}

/* The resolved configuration of the first run's train.log. */
static int run_settings(const char *dir, char ***settings, int *n)
{
    char *log = pg_path_join(dir, "train.log");
    int rc = log ? pg_log_settings(log, settings, n) : pg_fail("%s: out of memory", dir);
    free(log);
    return rc;
}

/* Scores every run, then writes the folder. */
static int package_runs(char *const *dirs, int n, const pg_quant_plan *plan, const char *data,
                        const char *tok_path, pg_package_opts *o)
{
    pg_package_seed *seeds = calloc((size_t)n, sizeof *seeds);
    unsigned char **arts = calloc((size_t)n, sizeof *arts);
    char **settings = NULL;
    int nsettings = 0, rc = -1;
    pg_tokenizer tok;
    if (!seeds || !arts) {
        free(seeds);
        free(arts);
        return pg_fail("%s: out of memory", o->out_dir);
    }
    if (pg_tokenizer_load(tok_path, &tok) == 0) {
        rc = 0;
        for (int i = 0; i < n && rc == 0; i++)
            rc = prepare_seed(dirs[i], plan, &tok, data, &seeds[i], &arts[i]);
        pg_tokenizer_free(&tok);
    }
    if (rc == 0 && (rc = run_settings(dirs[0], &settings, &nsettings)) == 0) {
        o->settings = (const char *const *)settings;
        o->nsettings = nsettings;
        rc = pg_package(seeds, n, o);
    }
    pg_log_settings_free(settings, nsettings);
    for (int i = 0; i < n; i++)
        free(arts[i]);
    free(arts);
    free(seeds);
    return rc;
}

/* A records folder that already holds files is another result: kept unless --force, which
 * removes it first so nothing of it mixes into the new one. */
static int refuse_existing(const char *out, int force)
{
    DIR *d = opendir(out);
    if (!d)
        return 0;
    char names[160] = "";
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n++ < 3) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%.40s", l ? ", " : "", e->d_name);
        }
    }
    closedir(d);
    if (n == 0)
        return 0;
    if (!force)
        return pg_fail("%s already holds %d file%s (%s%s): that records folder would be "
                       "replaced; pass --force to replace it, or choose another --out",
                       out, n, n == 1 ? "" : "s", names, n > 3 ? ", ..." : "");
    return pg_remove_tree(out);
}

int cmd_package(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"data", required_argument, 0, 'D'},
                                         {"tokenizer", required_argument, 0, 'T'},
                                         {"name", required_argument, 0, 'n'},
                                         {"author", required_argument, 0, 'a'},
                                         {"github-id", required_argument, 0, 'g'},
                                         {"date", required_argument, 0, 'd'},
                                         {"track", required_argument, 0, 't'},
                                         {"blurb", required_argument, 0, 'b'},
                                         {"scheme", required_argument, 0, 's'},
                                         {"source", required_argument, 0, 'r'},
                                         {"force", no_argument, 0, 'F'},
                                         {0, 0, 0, 0}};
    char today[16];
    time_t now = time(NULL);
    strftime(today, sizeof today, "%Y-%m-%d", gmtime(&now));
    const char *root = getenv("PGOLF_ROOT") && *getenv("PGOLF_ROOT") ? getenv("PGOLF_ROOT") : ".";
    const char *data = NULL, *tok_path = NULL;
    pg_package_opts o = {.name = "pgolf submission", .author = "unknown", .github_id = "unknown",
                         .date = today, .track = "10min_16mb",
                         .blurb = "Trained, quantized and packaged with pgolf.",
                         .source_root = root, .scheme_name = "int8"};
    int c, force = 0;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'F': force = 1; break;
        case 'o': o.out_dir = optarg; break;
        case 'D': data = optarg; break;
        case 'T': tok_path = optarg; break;
        case 'n': o.name = optarg; break;
        case 'a': o.author = optarg; break;
        case 'g': o.github_id = optarg; break;
        case 'd': o.date = optarg; break;
        case 't': o.track = optarg; break;
        case 'b': o.blurb = optarg; break;
        case 's': o.scheme_name = optarg; break;
        case 'r': o.source_root = optarg; break;
        default: return pg_cli_usage_error("package", "bad option");
        }
    }
    pg_quant_plan plan;
    if (strcmp(o.scheme_name, "int8") == 0)
        pg_quant_plan_int8(&plan);
    else if (strcmp(o.scheme_name, "mixed") == 0)
        pg_quant_plan_mixed(&plan);
    else
        return pg_cli_usage_error("package", "--scheme must be int8 or mixed");
    if (!o.out_dir || !data || !tok_path || optind >= argc)
        return pg_cli_usage_error("package", "needs RUN_DIR..., --out DIR, --data DIR and "
                                             "--tokenizer MODEL");
    if (refuse_existing(o.out_dir, force) != 0)
        return pg_cli_error();
    if (package_runs(argv + optind, argc - optind, &plan, data, tok_path, &o) != 0)
        return pg_cli_error();
    printf("%s: records folder for %d seed(s)\n", o.out_dir, argc - optind);
    return 0;
}
