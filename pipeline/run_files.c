/* Where a run's files are and how the manifest records them: the helpers the engine
 * (run.c), the stages (run_stages.c) and the report (run_report.c) share, so none of
 * them calls back into another. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/sha256.h"
#include "pipeline/manifest.h"
#include "pipeline/run_stages.h"

char *pg_run_disk_path(const char *run_dir, const char *recorded)
{
    char *p = recorded[0] == '/' ? strdup(recorded) : pg_path_join(run_dir, recorded);
    if (!p)
        pg_fail("%s: out of memory", recorded);
    return p;
}

char *pg_run_path(const pg_run_state *r, const char *rel)
{
    char *p = pg_path_join(r->dir, rel);
    if (!p)
        pg_fail("%s/%s: out of memory", r->dir, rel);
    return p;
}

int pg_run_add_file(pg_run_state *r, json_t *list, const char *recorded, int reproducible)
{
    char *disk = pg_run_disk_path(r->dir, recorded);
    json_t *rec = disk ? pg_file_record(disk, recorded) : NULL;
    free(disk);
    if (!rec)
        return -1;
    if (reproducible >= 0 &&
        json_object_set_new(rec, "reproducible", json_boolean(reproducible)) != 0) {
        json_decref(rec);
        rec = NULL;
    }
    if (!rec || json_array_append_new(list, rec) != 0) /* the append releases rec */
        return pg_fail("%s: out of memory recording it in the manifest", recorded);
    return 0;
}

json_t *pg_run_load_json(const pg_run_state *r, const char *rel)
{
    char *p = pg_run_path(r, rel);
    if (!p)
        return NULL;
    json_error_t e;
    json_t *j = json_load_file(p, 0, &e);
    if (!j)
        pg_fail("%s:%d: %s", p, e.line, e.text);
    free(p);
    return j;
}
