/* The malformed-input table: bad files and values through every subcommand. Each case
 * must exit non-zero with exactly one stderr line that names the offending file (or
 * setting) and the problem, and leave nothing behind: no output file, no temp file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/util.h"

/* The fixtures live in one directory; $D in a case's arguments stands for it. */
static char g_dir[512];

static const char *fx(const char *name)
{
    static char ring[8][700];
    static int k;
    char *p = ring[k++ % 8];
    snprintf(p, sizeof ring[0], "%s/%s", g_dir, name);
    return p;
}

static void put(const char *name, const void *data, size_t len)
{
    t_write_bytes(fx(name), data, len);
}

static void put_text(const char *name, const char *text)
{
    put(name, text, strlen(text));
}

static void make_dir(const char *name)
{
    mkdir(fx(name), 0755);
}

/* A copy of file `src` with `len` bytes (truncated) and byte `flip` (if >= 0) inverted. */
static void mutate(const char *src, const char *dst, size_t len, long flip)
{
    size_t n;
    unsigned char *b = t_read_bytes(fx(src), &n);
    if (len > n)
        len = n;
    if (flip >= 0 && (size_t)flip < len)
        b[flip] ^= 0xff;
    put(dst, b, len);
    free(b);
}

/* A shard with the official header fields given and `ntok` tokens of value `tok`. */
static void shard(const char *name, int magic, int version, int declared, int ntok, int tok,
                  int extra_bytes)
{
    size_t len = 1024 + 2 * (size_t)ntok + (size_t)extra_bytes;
    unsigned char *b = calloc(1, len);
    int32_t h[3] = {magic, version, declared};
    memcpy(b, h, sizeof h);
    for (int i = 0; i < ntok; i++) {
        b[1024 + 2 * i] = (unsigned char)(tok & 0xff);
        b[1024 + 2 * i + 1] = (unsigned char)(tok >> 8);
    }
    make_dir(name);
    char path[700];
    snprintf(path, sizeof path, "%s/%s/fineweb_val_000000.bin", g_dir, name);
    t_write_bytes(path, b, len);
    free(b);
}

static void build_fixtures(void)
{
    snprintf(g_dir, sizeof g_dir, "%s", t_tmp_path("malformed"));
    mkdir(g_dir, 0755);
    t_run_result r = t_pgolf("init --preset tiny --seed 1 --out '%s'", fx("good.ckpt"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    r = t_pgolf("pack '%s' --out '%s'", fx("good.ckpt"), fx("good.art"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    size_t n;
    free(t_read_bytes(fx("good.ckpt"), &n));
    mutate("good.ckpt", "trunc.ckpt", n / 2, -1);
    mutate("good.ckpt", "flip.ckpt", n, (long)n / 2);
    mutate("good.ckpt", "magic.ckpt", n, 0);
    mutate("good.ckpt", "hdr.ckpt", n, 20);
    mutate("good.ckpt", "tiny.ckpt", 10, -1);
    free(t_read_bytes(fx("good.art"), &n));
    mutate("good.art", "trunc.art", n - 7, -1);
    mutate("good.art", "flip.art", n, (long)n - 40);
    mutate("good.art", "magic.art", n, 1);
    put_text("empty.bin", "");
    put_text("text.txt", "this is not a model\n");
    make_dir("adir");
    shard("shard_magic", 12345, 1, 4, 4, 5, 0);
    shard("shard_version", 20240520, 7, 4, 4, 5, 0);
    shard("shard_size", 20240520, 1, 10, 4, 5, 0);
    shard("shard_extra", 20240520, 1, 4, 4, 5, 3);
    shard("shard_range", 20240520, 1, 4, 4, 60000, 0);
    shard("shard_negative", 20240520, 1, -4, 0, 0, 0);
    make_dir("shard_short");
    put_text("shard_short/fineweb_val_000000.bin", "short");
    make_dir("shard_none");
    put_text("ids_bad.txt", "1 2 three 4\n");
    put_text("ids_range.txt", "1 2 70000\n");
    put_text("bad_line.cfg", "NUM_LAYERS 4\n");
    put_text("unknown.cfg", "NOT_A_SETTING=1\n");
    put_text("nonnum.cfg", "MODEL_DIM=wide\n");
    put_text("range.cfg", "NUM_LAYERS=-3\n");
    put_text("nan.cfg", "MATRIX_LR=nan\n");
    unsigned char junk[256];
    for (int i = 0; i < 256; i++)
        junk[i] = (unsigned char)(i * 37 + 11);
    put("junk.model", junk, sizeof junk);
    /* a records folder with broken JSON and one whose submission.json is a directory */
    make_dir("rec_json");
    put_text("rec_json/submission.json", "{\"val_bpb\": 1.2,");
    make_dir("run_bad");
    put_text("run_bad/manifest.json", "{\"format\": \"pgolf-run\", \"stages\": [");
    make_dir("run_wrong");
    put_text("run_wrong/manifest.json", "[1, 2, 3]");
    put_text("scores_bad.txt", "1.1 1.2 banana\n");
}

typedef struct {
    const char *args;   /* pgolf arguments; $D is the fixtures directory, $R the repository */
    const char *names;  /* substring stderr must contain ($D expanded) */
    const char *absent; /* a path ($D expanded) that must not exist afterwards, or NULL */
} bad_case;

static const bad_case kCases[] = {
    /* data check / pack: shards */
    {"data check $D/shard_magic", "$D/shard_magic/fineweb_val_000000.bin", NULL},
    {"data check $D/shard_version", "$D/shard_version/fineweb_val_000000.bin", NULL},
    {"data check $D/shard_size", "$D/shard_size/fineweb_val_000000.bin", NULL},
    {"data check $D/shard_extra", "$D/shard_extra/fineweb_val_000000.bin", NULL},
    {"data check $D/shard_range --vocab 1024", "$D/shard_range/fineweb_val_000000.bin", NULL},
    {"data check $D/shard_negative", "$D/shard_negative/fineweb_val_000000.bin", NULL},
    {"data check $D/shard_short", "$D/shard_short/fineweb_val_000000.bin", NULL},
    {"data check $D/shard_none", "$D/shard_none", NULL},
    {"data check $D/missing_dir", "$D/missing_dir", NULL},
    {"data check $D/text.txt", "$D/text.txt", NULL},
    {"data pack $D/ids_bad.txt $D/out1.bin", "$D/ids_bad.txt", "$D/out1.bin"},
    {"data pack $D/ids_range.txt $D/out2.bin", "$D/ids_range.txt", "$D/out2.bin"},
    {"data pack $D/missing.txt $D/out3.bin", "$D/missing.txt", "$D/out3.bin"},
    /* tokenizer */
    {"tokenizer $D/junk.model", "$D/junk.model", NULL},
    {"tokenizer $D/empty.bin", "$D/empty.bin", NULL},
    {"tokenizer $D/adir", "$D/adir", NULL},
    {"tokenizer $D/missing.model", "$D/missing.model", NULL},
    {"data check $R/data/sample --tokenizer $D/junk.model", "$D/junk.model", NULL},
    /* init: settings */
    {"init --preset tiny --set NUM_LAYERS=abc --out $D/o1.ckpt", "NUM_LAYERS", "$D/o1.ckpt"},
    {"init --preset tiny --set MODEL_DIM=0 --out $D/o2.ckpt", "MODEL_DIM", "$D/o2.ckpt"},
    {"init --preset tiny --set NUM_HEADS=3 --out $D/o3.ckpt", "NUM_HEADS", "$D/o3.ckpt"},
    {"init --preset tiny --set BOGUS=1 --out $D/o4.ckpt", "BOGUS", "$D/o4.ckpt"},
    {"init --preset nosuch --out $D/o5.ckpt", "nosuch", "$D/o5.ckpt"},
    {"init --preset tiny --set MLP_MULT=1000000 --set MODEL_DIM=65536 --out $D/o6.ckpt",
     "parameters", "$D/o6.ckpt"},
    /* train: config files and settings */
    {"train --preset tiny --config $D/bad_line.cfg --out $D/t1", "$D/bad_line.cfg", "$D/t1"},
    {"train --preset tiny --config $D/unknown.cfg --out $D/t2", "$D/unknown.cfg", "$D/t2"},
    {"train --preset tiny --config $D/nonnum.cfg --out $D/t3", "$D/nonnum.cfg", "$D/t3"},
    {"train --preset tiny --config $D/range.cfg --out $D/t4", "NUM_LAYERS", "$D/t4"},
    {"train --preset tiny --config $D/missing.cfg --out $D/t5", "$D/missing.cfg", "$D/t5"},
    {"train --preset tiny --config $D/nan.cfg --out $D/t6", "MATRIX_LR", "$D/t6"},
    {"train --preset tiny --set DATA_PATH=$D/shard_magic --out $D/t7",
     "$D/shard_magic/fineweb_val_000000.bin", NULL},
    {"train --preset tiny --set TOKENIZER_PATH=$D/junk.model --out $D/t8", "$D/junk.model", NULL},
    {"train --preset tiny --set INIT_CHECKPOINT=$D/flip.ckpt --out $D/t9", "$D/flip.ckpt", NULL},
    /* eval: checkpoints and data */
    {"eval $D/trunc.ckpt --data $R/data/sample --tokenizer $R/data/sample/sample_1024_bpe.model",
     "$D/trunc.ckpt", NULL},
    {"eval $D/flip.ckpt --data $R/data/sample --tokenizer $R/data/sample/sample_1024_bpe.model",
     "$D/flip.ckpt", NULL},
    {"eval $D/magic.ckpt --data $R/data/sample --tokenizer $R/data/sample/sample_1024_bpe.model",
     "$D/magic.ckpt", NULL},
    {"eval $D/hdr.ckpt --data $R/data/sample --tokenizer $R/data/sample/sample_1024_bpe.model",
     "$D/hdr.ckpt", NULL},
    {"eval $D/tiny.ckpt --data $R/data/sample --tokenizer $R/data/sample/sample_1024_bpe.model",
     "$D/tiny.ckpt", NULL},
    {"eval $D/empty.bin --data $R/data/sample --tokenizer $R/data/sample/sample_1024_bpe.model",
     "$D/empty.bin", NULL},
    {"eval $D/adir --data $R/data/sample --tokenizer $R/data/sample/sample_1024_bpe.model", "$D/adir",
     NULL},
    {"eval $D/good.ckpt --data $D/shard_range --tokenizer $R/data/sample/sample_1024_bpe.model",
     "$D/shard_range/fineweb_val_000000.bin", NULL},
    {"eval $D/good.ckpt --data $R/data/sample --tokenizer $D/junk.model", "$D/junk.model", NULL},
    {"eval $D/good.ckpt --data $R/data/sample --tokenizer $R/data/sample/sample_1024_bpe.model "
     "--mode sliding --stride 0",
     "stride", NULL},
    {"eval $D/good.ckpt --data $R/data/sample --tokenizer $R/data/sample/sample_1024_bpe.model --ttt "
     "--ttt-set TTT_OPTIMIZER=adamw",
     "TTT_OPTIMIZER", NULL},
    {"eval $D/good.ckpt --data $R/data/sample --tokenizer $R/data/sample/sample_1024_bpe.model --ttt "
     "--ttt-set TTT_LR=-1",
     "TTT_LR", NULL},
    {"eval $D/trunc.art --data $R/data/sample --tokenizer $R/data/sample/sample_1024_bpe.model",
     "$D/trunc.art", NULL},
    /* pack / unpack */
    {"pack $D/trunc.ckpt --out $D/p1.art", "$D/trunc.ckpt", "$D/p1.art"},
    {"pack $D/flip.ckpt --out $D/p2.art", "$D/flip.ckpt", "$D/p2.art"},
    {"pack $D/text.txt --out $D/p3.art", "$D/text.txt", "$D/p3.art"},
    {"pack $D/good.ckpt --out $D/p4.art --scheme int3", "--scheme", "$D/p4.art"},
    {"pack $D/good.ckpt --out $D/p5.art --group nosuch=int8", "nosuch", "$D/p5.art"},
    {"unpack $D/trunc.art --out $D/u1.ckpt", "$D/trunc.art", "$D/u1.ckpt"},
    {"unpack $D/flip.art --out $D/u2.ckpt", "$D/flip.art", "$D/u2.ckpt"},
    {"unpack $D/magic.art --out $D/u3.ckpt", "$D/magic.art", "$D/u3.ckpt"},
    {"unpack $D/good.ckpt --out $D/u4.ckpt", "$D/good.ckpt", "$D/u4.ckpt"},
    {"unpack $D/empty.bin --out $D/u5.ckpt", "$D/empty.bin", "$D/u5.ckpt"},
    {"unpack $D/missing.art --out $D/u6.ckpt", "$D/missing.art", "$D/u6.ckpt"},
    /* verify / package / records / stats */
    {"verify $D/missing_rec", "$D/missing_rec", NULL},
    {"verify $D/text.txt", "$D/text.txt", NULL},
    {"package $D/missing_run --out $D/pkg1 --data $R/data/sample --tokenizer "
     "$R/data/sample/sample_1024_bpe.model",
     "$D/missing_run", "$D/pkg1"},
    {"package $D/adir --out $D/pkg2 --data $R/data/sample --tokenizer "
     "$R/data/sample/sample_1024_bpe.model",
     "$D/adir", "$D/pkg2"},
    {"package $D/adir --out $D/pkg3", "--data", "$D/pkg3"},
    {"package --logs $D/text.txt --code $D/text.txt --name n --author a --github-id g "
     "--out $D/pkl1",
     "$D/text.txt", "$D/pkl1"},
    {"package --logs $D/missing.log --code $D/text.txt --name n --author a --github-id g "
     "--out $D/pkl2",
     "$D/missing.log", "$D/pkl2"},
    {"package --logs $D/text.txt --code $D/missing.py --name n --author a --github-id g "
     "--out $D/pkl3",
     "$D/missing.py", "$D/pkl3"},
    {"package --logs $D/text.txt --code $D/text.txt --name n --author a --github-id g "
     "--date 2026-02-30 --out $D/pkl4",
     "2026-02-30", "$D/pkl4"},
    {"package --logs $D/text.txt --code $D/text.txt --name n --author a --github-id g "
     "--leaderboard $D/text.txt --out $D/pkl5",
     "$D/text.txt", "$D/pkl5"},
    {"records $D/missing_tree", "$D/missing_tree", NULL},
    {"records $D/adir --leaderboard $D/missing.md", "$D/missing.md", NULL},
    {"records $D/adir --leaderboard $D/text.txt", "$D/text.txt: no leaderboard table", NULL},
    {"stats 1.1,1.2,1.15 --sota 1.3", "--losses", NULL},
    {"stats 1.1,1.2,1.15 --sota-record $D/missing_rec --threshold-bpb", "$D/missing_rec", NULL},
    {"stats $D/scores_bad.txt --sota 1.2", "$D/scores_bad.txt", NULL},
    {"stats 1.1,1.2,nan --sota 1.3", "nan", NULL},
    {"stats 1.1,1.2,1.15 --sota abc", "abc", NULL},
    {"stats 1.1,1.2,1.15 --sota 1.3 --alpha 2", "alpha", NULL},
    {"stats 1.1 --sota 1.3", "2 scores", NULL},
    /* run / status / replay */
    {"run --preset tiny --config $D/bad_line.cfg --out $D/r1", "$D/bad_line.cfg", "$D/r1"},
    {"run --preset tiny --set RUN_SEEDS=1,x --out $D/r2", "RUN_SEEDS", "$D/r2"},
    {"run --preset tiny --set RUN_QUANT=int3 --out $D/r3", "RUN_QUANT", "$D/r3"},
    {"status $D/run_bad", "$D/run_bad/manifest.json", NULL},
    {"status $D/run_wrong", "$D/run_wrong/manifest.json", NULL},
    {"replay $D/run_bad", "$D/run_bad/manifest.json", NULL},
    {"status $D/missing_run", "$D/missing_run", NULL},
    /* selfextract */
    {"selfextract --out $D/s1.py --set NUM_LAYERS=x", "NUM_LAYERS", "$D/s1.py"},
};

/* s with every "$D" replaced by the fixtures directory and "$R" by the repository */
static void expand(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    for (; *s && k + 1 < cap; s++) {
        if (s[0] == '$' && (s[1] == 'D' || s[1] == 'R')) {
            k += (size_t)snprintf(out + k, cap - k, "%s", s[1] == 'D' ? g_dir : t_root());
            s++;
        } else {
            out[k++] = *s;
        }
    }
    out[k < cap ? k : cap - 1] = '\0';
}

static int temp_files_left(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp.*' | wc -l", g_dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

START_TEST(test_malformed_table)
{
    build_fixtures();
    size_t n = sizeof kCases / sizeof kCases[0];
    ck_assert_uint_ge(n, 60);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char args[2048], names[1024], absent[1024];
        expand(kCases[i].args, args, sizeof args);
        expand(kCases[i].names, names, sizeof names);
        t_run_result r = t_pgolf("%s", args);
        const char *why = r.status == 0 || r.status >= 128 ? "exit status"
                          : t_count_lines(r.err) != 1      ? "not one stderr line"
                          : !strstr(r.err, names)          ? "stderr does not name it"
                                                           : NULL;
        if (!why && kCases[i].absent) {
            expand(kCases[i].absent, absent, sizeof absent);
            if (access(absent, F_OK) == 0)
                why = "output left behind";
        }
        if (why) {
            fprintf(stderr, "FAILED case %zu `pgolf %s` (%s, exit %d, wants %s): %s", i, args, why,
                    r.status, names, r.err);
            bad++;
        }
    }
    ck_assert_msg(bad == 0, "%d of %zu malformed-input cases failed (listed above)", bad, n);
    ck_assert_int_eq(temp_files_left(), 0);
    fprintf(stderr, "malformed inputs: %zu cases, each a one-line error and nothing left\n", n);
}
END_TEST

Suite *suite_malformed(void)
{
    Suite *s = suite_create("malformed");
    TCase *tc = tcase_create("malformed");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_malformed_table);
    suite_add_tcase(s, tc);
    return s;
}
