/* Where a run's files are and how the manifest records them: the helpers the engine
 * (run.c), the stages (run_stages.c) and the report (run_report.c) share, so none of
 * them calls back into another. */
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/sha256.h"
#include "pipeline/manifest.h"
#include "pipeline/run_stages.h"

char *pg_run_disk_path(const char *run_dir, const char *recorded)
{
    return recorded[0] == '/' ? strdup(recorded) : pg_path_join(run_dir, recorded);
}

char *pg_run_path(const pg_run_state *r, const char *rel)
{
    return pg_path_join(r->dir, rel);
}

int pg_run_add_file(pg_run_state *r, json_t *list, const char *recorded, int reproducible)
{
    char *disk = pg_run_disk_path(r->dir, recorded);
    json_t *rec = pg_file_record(disk, recorded);
    free(disk);
    if (!rec)
        return -1;
    if (reproducible >= 0)
        json_object_set_new(rec, "reproducible", json_boolean(reproducible));
    json_array_append_new(list, rec);
    return 0;
}

