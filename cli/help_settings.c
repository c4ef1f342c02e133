/* pgolf help settings: every row of the settings registry. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "pipeline/runconfig.h"

static const char *type_name(const pg_setting *s)
{
    static const char *const names[] = {"int", "long", "float", "double", "string", "path",
                                        "enum", "text"};
    return names[s->type];
}

static void readers(unsigned mask, char *buf, size_t cap)
{
    static const char *const names[] = {"model", "train", "ttt", "run"};
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < 4; i++)
        if (mask & (1u << i))
            k += (size_t)snprintf(buf + k, cap - k, "%s%s", k ? "," : "", names[i]);
}

void pg_cli_help_settings(FILE *out)
{
    pg_run_config c;
    pg_run_config_preset(&c, "baseline", ".");
    pg_settings_bind b[PG_RUN_TABLES];
    int n = pg_run_config_bind(&c, b);
    fprintf(out, "pgolf settings: NAME=VALUE from a preset, --config FILE, the environment, then\n"
                 "--set (or eval's --ttt-set); later wins. DEFAULT is the baseline preset's (the\n"
                 "reference's); --preset tiny changes the shape, schedule and data (see 'pgolf help\n"
                 "train' and 'pgolf help run'). READ BY: model (the model's shape: init,\n"
                 "checkpoints), train (pgolf train, a run's train stages), ttt (eval --ttt, verify\n"
                 "--rerun, a run's TTT eval), run (pgolf run's own stages).\n");
    for (int i = 0; i < n; i++) {
        const pg_settings_table *t = b[i].table;
        fprintf(out, "\n%s:\n  %-28s %-7s %-18s %-16s %s\n", t->title, "NAME", "TYPE", "RANGE",
                "READ BY", "DEFAULT");
        for (size_t k = 0; k < t->n; k++) {
            const pg_setting *s = &t->rows[k];
            char range[96], who[64];
            pg_settings_range(s, range, sizeof range);
            readers(s->readers, who, sizeof who);
            fprintf(out, "  %-28s %-7s %-18s %-16s %s\n      %s", s->name, type_name(s),
                    s->choices ? s->choices : range, who, *s->def ? s->def : "\"\"", s->help);
            if (s->when)
                fprintf(out, " (read when %s)", s->when);
            fputc('\n', out);
        }
    }
}
