#include "rdb.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "recorder.h"
#include "zb_util.h"

static zb_status sql_fail(zb_rdb *db, const char *what, zb_error *err)
{
    return zb_fail(err, ZB_ERR_INVALID, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

zb_status zb_rdb_open(const char *path, zb_rdb *db, zb_error *err)
{
    db->h = NULL;
    db->path = path;
    /* SQLite would say "unable to open database file" for every cause;
     * stat first so the common mistakes are named */
    struct stat sb;
    if (stat(path, &sb) != 0) return zb_fail(err, ZB_ERR_INVALID, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return zb_fail(err, ZB_ERR_INVALID, "%s: not a regular file", path);
    int rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        zb_status st = zb_fail(err, ZB_ERR_INVALID, "%s: cannot open: %s", path,
                               db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        zb_rdb_close(db);
        return st;
    }
    /* a writer may hold the lock briefly while it commits a run */
    if (sqlite3_busy_timeout(db->h, ZB_DB_BUSY_TIMEOUT_MS) != SQLITE_OK) {
        zb_status st = sql_fail(db, "busy timeout", err);
        zb_rdb_close(db);
        return st;
    }
    sqlite3_stmt *q = NULL;
    int version = -1;
    zb_status st = zb_rdb_prepare(db, "PRAGMA user_version", &q, "reading the schema version", err);
    if (st == ZB_OK) {
        int r = zb_rdb_step(db, q, "reading the schema version", err);
        if (r < 0) st = ZB_ERR_INVALID;
        else if (r == 1) version = sqlite3_column_int(q, 0);
    }
    zb_rdb_finalize(q);
    if (st == ZB_OK && version > ZB_SCHEMA_VERSION)
        st = zb_fail(err, ZB_ERR_INVALID, "%s: schema version %d is newer than this zbench knows (%d): upgrade zbench",
                     path, version, ZB_SCHEMA_VERSION);
    else if (st == ZB_OK && version < 1)
        st = zb_fail(err, ZB_ERR_INVALID, "%s: not a zbench database (schema version %d)", path, version);
    if (st != ZB_OK) zb_rdb_close(db);
    return st;
}

void zb_rdb_close(zb_rdb *db)
{
    /* read-only: nothing to flush, and close fails only on unfinalized
     * statements, which every caller finalizes */
    if (db->h) (void)sqlite3_close(db->h);
    db->h = NULL;
}

zb_status zb_rdb_prepare(zb_rdb *db, const char *sql, sqlite3_stmt **st, const char *what, zb_error *err)
{
    *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, st, NULL) != SQLITE_OK) return sql_fail(db, what, err);
    return ZB_OK;
}

int zb_rdb_step(zb_rdb *db, sqlite3_stmt *st, const char *what, zb_error *err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    sql_fail(db, what, err);
    return -1;
}

void zb_rdb_finalize(sqlite3_stmt *st)
{
    (void)sqlite3_finalize(st);
}

zb_status zb_rdb_bind_text(zb_rdb *db, sqlite3_stmt *st, int i, const char *text, zb_error *err)
{
    if (sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT) != SQLITE_OK) return sql_fail(db, "binding", err);
    return ZB_OK;
}

zb_status zb_rdb_has_table(zb_rdb *db, const char *name, int *has, zb_error *err)
{
    sqlite3_stmt *q = NULL;
    *has = 0;
    zb_status st = zb_rdb_prepare(db, "SELECT count(*) FROM sqlite_master WHERE type IN ('table','view') AND name = ?",
                                  &q, "listing tables", err);
    if (st == ZB_OK) st = zb_rdb_bind_text(db, q, 1, name, err);
    if (st == ZB_OK) {
        int r = zb_rdb_step(db, q, "listing tables", err);
        if (r < 0) st = ZB_ERR_INVALID;
        else if (r == 1) *has = sqlite3_column_int(q, 0) > 0;
    }
    zb_rdb_finalize(q);
    return st;
}

const char *zb_rdb_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}

double zb_rdb_real(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

int64_t zb_rdb_int(sqlite3_stmt *st, int col, int64_t if_null)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? if_null : (int64_t)sqlite3_column_int64(st, col);
}
