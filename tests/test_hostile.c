/* Hostile inputs: files and headers from strangers must give a one-line error and a
 * non-zero exit, never a hang, undefined behaviour or a result built on garbage. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "dataset/tokenizer.h"
#include "kernels/checkpoint.h"
#include "kernels/config.h"
#include "kernels/model.h"
#include "sentencepiece_model.pb-c.h"
#include "tests/util.h"

/* A FIFO where a file belongs is refused at once (opening one used to wait forever). */
START_TEST(test_fifo_refused)
{
    const char *fifo = t_tmp_path("hostile.fifo");
    unlink(fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    alarm(20); /* a hang fails the test instead of stalling the suite */
    unsigned char *buf;
    size_t n;
    ck_assert_int_eq(pg_read_file(fifo, 1 << 20, &buf, &n), -1);
    ck_assert_msg(strstr(pg_errmsg(), "is a FIFO, not a regular file"), "%s", pg_errmsg());
    ck_assert_ptr_null(pg_open_regular(fifo));
    t_run_result r = t_pgolf("tokenizer '%s'", fifo);
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, fifo) && strstr(r.err, "FIFO") && t_count_lines(r.err) == 1, "%s",
                  r.err);
    r = t_pgolf("train --preset tiny --config '%s' --out '%s'", fifo, t_tmp_path("fifo-train"));
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, "FIFO"), "%s", r.err);
    alarm(0);
    /* a directory is named as one */
    ck_assert_int_eq(pg_read_file(t_tmpdir(), 1 << 20, &buf, &n), -1);
    ck_assert_msg(strstr(pg_errmsg(), "is a directory"), "%s", pg_errmsg());
    unlink(fifo);
}
END_TEST

/* Shape products of an untrusted config are checked before any arithmetic uses them
 * (mlp_mult * model_dim used to overflow an int). */
START_TEST(test_config_overflow)
{
    pg_model_config c = pg_config_tiny();
    c.mlp_mult = 1 << 20;
    c.model_dim = 1 << 12;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    ck_assert_int_eq(pg_config_validate(&c), -1);
    ck_assert_msg(strstr(pg_errmsg(), "parameters"), "%s", pg_errmsg());
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &c), -1);
    /* a config within int but past the parameter cap */
    c = pg_config_baseline();
    c.vocab_size = 65536;
    c.model_dim = 65536;
    c.num_heads = 256;
    c.num_kv_heads = 256;
    ck_assert_int_eq(pg_config_validate(&c), -1);
}
END_TEST

/* The checked parameter count is the layout model.c builds (one layer, tiny, baseline). */
START_TEST(test_num_params_matches_layout)
{
    pg_model_config cs[3] = {pg_config_tiny(), pg_config_tiny(), pg_config_baseline()};
    cs[1].num_layers = 1;
    for (int i = 0; i < 3; i++) {
        pg_model m;
        size_t n;
        ck_assert_int_eq(pg_model_create(&m, &cs[i]), 0);
        ck_assert_int_eq(pg_config_num_params(&cs[i], &n), 0);
        ck_assert_uint_eq(n, m.num_params);
        pg_model_free(&m);
    }
}
END_TEST

/* A 40,000-byte piece used to wrap to base_bytes -25536 in the BPB table. */
START_TEST(test_tokenizer_long_piece)
{
    static char long_piece[40001];
    memset(long_piece, 'a', 40000);
    char *names[] = {"<unk>", "<s>", "</s>", long_piece};
    Sentencepiece__ModelProto__SentencePiece sp[4];
    Sentencepiece__ModelProto__SentencePiece *pp[4];
    for (int i = 0; i < 4; i++) {
        sentencepiece__model_proto__sentence_piece__init(&sp[i]);
        sp[i].piece = names[i];
        sp[i].has_type = 1;
        sp[i].type = i == 0 ? 2 : i < 3 ? 3 : 1;
        pp[i] = &sp[i];
    }
    Sentencepiece__ModelProto mp;
    sentencepiece__model_proto__init(&mp);
    mp.n_pieces = 4;
    mp.pieces = pp;
    size_t n = sentencepiece__model_proto__get_packed_size(&mp);
    uint8_t *buf = malloc(n);
    sentencepiece__model_proto__pack(&mp, buf);
    const char *path = t_tmp_path("long_piece.model");
    t_write_bytes(path, buf, n);
    free(buf);
    pg_tokenizer tok;
    ck_assert_int_eq(pg_tokenizer_load(path, &tok), -1);
    ck_assert_msg(strstr(pg_errmsg(), "piece 3 is 40000 bytes, over the limit"), "%s",
                  pg_errmsg());
    t_run_result r = t_pgolf("tokenizer '%s' --json", path);
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(t_count_lines(r.err) == 1 && strstr(r.err, path), "%s", r.err);
}
END_TEST

/* An all-NaN checkpoint is an error, not val_bpb nan with exit 0. */
START_TEST(test_nan_checkpoint_eval)
{
    pg_model_config c = pg_config_tiny();
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &c), 0);
    for (size_t i = 0; i < m.num_params; i++)
        m.params[i] = NAN;
    const char *ckpt = t_tmp_path("nan.ckpt");
    ck_assert_int_eq(pg_checkpoint_save(ckpt, &m, NULL, NULL, 0), 0);
    pg_model_free(&m);
    t_run_result r = t_pgolf("eval '%s' --data '%s' --tokenizer '%s' --quiet", ckpt,
                             t_repo_path("data/sample"),
                             t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, "not finite") && t_count_lines(r.err) == 1, "%s", r.err);
}
END_TEST

/* Past the 64x-the-file bound, a whole model decodes to at most the absolute limit; the
 * message names the flag that raises it, and the flag does. */
START_TEST(test_absolute_decode_limit)
{
    const char *art = t_repo_path("tests/fuzz/corpus/artifact/raw_l2.art");
    const char *out = t_tmp_path("limit.ckpt");
    unlink(out);
    t_run_result r = t_pgolf("unpack '%s' --out '%s' --max-decoded-bytes 1000", art, out);
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, "raw_l2.art: the config's") &&
                      strstr(r.err, "exceed 1000 bytes, the decode limit (raise it with "
                                    "--max-decoded-bytes N)") &&
                      t_count_lines(r.err) == 1,
                  "%s", r.err);
    ck_assert_int_ne(access(out, F_OK), 0);
    r = t_pgolf("unpack '%s' --out '%s' --max-decoded-bytes 1000000", art, out);
    ck_assert_msg(r.status == 0, "%s", r.err);

    const char *pt = t_repo_path("tests/golden/torchfiles/raw.pt");
    r = t_pgolf("import '%s' --out '%s' --max-decoded-bytes 4096", pt, t_tmp_path("limit2.ckpt"));
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, "raw.pt: zip members expand to more than 4096 bytes (the decode "
                                "limit") && t_count_lines(r.err) == 1, "%s", r.err);
    r = t_pgolf("unpack '%s' --out '%s' --max-decoded-bytes 0", art, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "--max-decoded-bytes"), "%s", r.err);
}
END_TEST

Suite *suite_hostile(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fifo_refused);
    tcase_add_test(tc, test_config_overflow);
    tcase_add_test(tc, test_num_params_matches_layout);
    tcase_add_test(tc, test_tokenizer_long_piece);
    tcase_add_test(tc, test_nan_checkpoint_eval);
    tcase_add_test(tc, test_absolute_decode_limit);
    suite_add_tcase(s, tc);
    return s;
}
