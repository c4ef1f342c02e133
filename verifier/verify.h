/* Audit of a records folder in the challenge's layout, pgolf-made or not (DESIGN §2, §3):
 * required files, submission.json keys, every log parsed leniently, per-seed numbers
 * extracted, claims compared with the logs, and the limits (16,000,000 bytes, 600 s of
 * training, 600 s of evaluation). Each finding is PASS, FAIL, UNKNOWN or NOTE with
 * evidence (file and line). Claims are matched against every final evaluation of every
 * log; limits apply to the runs behind the claims. Tracks other than the 10-minute one
 * are not held to the time limits. */
#ifndef PG_VERIFY_H
#define PG_VERIFY_H

#include <jansson.h>

#include "packager/record.h"

#define PG_BYTE_CAP 16000000.0
#define PG_TRAIN_CAP_MS 600000.0
#define PG_EVAL_CAP_S 600.0

/* FAIL: a rule broken or a claim contradicted by the evidence; UNKNOWN: evidence that
 * matters is missing; NOTE: true but minor (hidden unless asked for). */
typedef enum { PG_CHECK_PASS, PG_CHECK_FAIL, PG_CHECK_UNKNOWN, PG_CHECK_NOTE } pg_check_status;

typedef struct {
    char name[96];
    pg_check_status status;
    char evidence[700];
} pg_check;

typedef struct {
    pg_check *v;
    size_t n, cap;
    int out_of_memory; /* a finding could not be stored: the audit is incomplete */
} pg_checks;

const char *pg_check_status_name(pg_check_status s);
void pg_checks_add(pg_checks *c, const char *name, pg_check_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void pg_checks_free(pg_checks *c);
size_t pg_checks_count(const pg_checks *c, pg_check_status s);

/* Loads dir and runs every static check. Fails only when dir cannot be read. */
int pg_verify_record(const char *dir, pg_record *rec, pg_checks *checks);

/* The claimed evaluation's score of every logged seed (the last line of the tag the
 * val_bpb claim rests on, one per seed): bpb[] and loss[] up to cap; returns how many,
 * 0 when the claim is not a per-seed mean. */
size_t pg_verify_all_seed_scores(const pg_record *r, double *bpb, double *loss, size_t cap);

/* {"record","seeds":[...],"checks":[...],"summary":{...}}; NOTE findings are listed only
 * with all (always counted in the summary). */
json_t *pg_verify_json(const pg_record *rec, const pg_checks *checks, int all);

#endif
