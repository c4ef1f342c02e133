/* One function per `pgolf` subcommand (git builtin/ style), each taking the argv that
 * follows the subcommand name (argv[0] is the subcommand). They return the process exit
 * status; errors are printed as one line "pgolf: <message>". */
#ifndef PG_COMMANDS_H
#define PG_COMMANDS_H

#include <stdio.h>


typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage; /* full help text */
} pg_command;

int cmd_data(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_rerun(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_unpack(int argc, char **argv);
int cmd_selfextract(int argc, char **argv);
int cmd_package(int argc, char **argv);
int cmd_records(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_selftest(int argc, char **argv);

extern const pg_command pg_commands[];

/* getopt_long with long options spelled in full: an abbreviation or a near miss is
 * reported ("did you mean --seeds?") and returned as '?'. */
struct option;
int pg_cli_getopt(int argc, char **argv, const struct option *opts);
/* Warns on stderr about environment variables that look like settings but are not
 * (a setting's name within one or two edits, or a settings prefix); returns how many. */
int pg_cli_warn_env_settings(FILE *err);

/* --max-decoded-bytes N, taken by every command that decodes model files from outside
 * (common/decode_limit.h); its case calls pg_decode_limit_set(optarg). */
#define PG_CLI_DECODE_LIMIT_OPTION {"max-decoded-bytes", required_argument, 0, 'X'}

/* --backend cpu|cuda|auto, taken by the commands that compute with a model; its case
 * keeps optarg for pg_cli_backend. */
#define PG_CLI_BACKEND_OPTION {"backend", required_argument, 0, 'K'}
/* The backend that `flag` (the --backend value, or NULL) names, else PGOLF_BACKEND, else
 * the CPU. auto without a usable GPU takes the CPU and says so on stderr. Returns an exit
 * status: 0, 2 for an unknown name, 1 when cuda cannot run here (message). */
struct pg_backend;
int pg_cli_backend(const char *cmd, const char *flag, const struct pg_backend **be);

/* The directory holding pgolf's sources and data/sample, absolute: $PGOLF_ROOT; else the
 * executable's own directory, or PREFIX/share/pgolf beside an installed PREFIX/bin/pgolf,
 * or the working directory, whichever is a pgolf tree. Fails (message) when none is. */
int pg_cli_root(char *out, size_t n);

/* Prints the recorded error as "pgolf: <msg>" and returns exit status 1. */
int pg_cli_error(void);
/* Prints "pgolf <cmd>: <msg>" plus a hint at `pgolf help <cmd>`; returns 2. */
int pg_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Applies "NAME=VALUE" flag values with set(ctx, name, value). Returns an exit status:
 * 0, 2 for a malformed flag (usage error naming `flag`), 1 for a rejected setting. */
int pg_cli_apply_sets(const char *cmd, const char *flag, const char *const *sets, int n,
                      int (*set)(void *ctx, const char *name, const char *value), void *ctx);
/* `pgolf help settings`: every setting with its type, default, range, readers and help. */
void pg_cli_help_settings(FILE *out);
/* Prints a JSON value to stdout with a trailing newline and releases it. NULL (its
 * construction ran out of memory) or a failed write is an error. Returns an exit status. */
int pg_cli_print_json(void *json_value);

#endif
