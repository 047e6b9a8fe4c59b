/*
 * Read-only access to a zbench database for reports and comparisons.
 *
 * The file is opened with SQLITE_OPEN_READONLY, so a report can never
 * change a record (not even by migrating it): a schema older than version 1
 * or newer than ZB_SCHEMA_VERSION is refused instead. Every failure is one
 * line, "<file>: <what>: <sqlite message>".
 */
#ifndef ZB_RDB_H
#define ZB_RDB_H

#include <stdint.h>

#include <sqlite3.h>

#include "zbench_plugin.h"

typedef struct zb_rdb {
    sqlite3 *h;
    const char *path; /* as given, for messages; not owned */
} zb_rdb;

zb_status zb_rdb_open(const char *path, zb_rdb *db, zb_error *err);
void zb_rdb_close(zb_rdb *db);

zb_status zb_rdb_prepare(zb_rdb *db, const char *sql, sqlite3_stmt **st, const char *what, zb_error *err);
/* One step: 1 for a row, 0 when done, -1 on error (err filled). */
int zb_rdb_step(zb_rdb *db, sqlite3_stmt *st, const char *what, zb_error *err);
/* Finalizes; the statement's errors were already reported by its steps. */
void zb_rdb_finalize(sqlite3_stmt *st);
/* Binds text parameter i (1-based); ZB_OK or an error naming the file. */
zb_status zb_rdb_bind_text(zb_rdb *db, sqlite3_stmt *st, int i, const char *text, zb_error *err);

/* Whether a table (or view) of that name exists. */
zb_status zb_rdb_has_table(zb_rdb *db, const char *name, int *has, zb_error *err);

/* Column helpers: text as "" for NULL, numbers as NaN / -1 for NULL. */
const char *zb_rdb_text(sqlite3_stmt *st, int col);
double zb_rdb_real(sqlite3_stmt *st, int col);
int64_t zb_rdb_int(sqlite3_stmt *st, int col, int64_t if_null);

#endif
