/*
 * store_sqlite: the embedded default store, one SQLite database in WAL
 * mode.  The only file that includes sqlite3.h.  It owns a pool of
 * connections (one per concurrent request, each with its prepared
 * statements) and never holds a transaction across calls.
 *
 * Schema (user_version 2, application_id 'kvfs'):
 *   ns(id, name, bytes, keys)   bytes/keys kept by triggers (rows of
 *                               both kinds), so usage() never scans
 *   kv(id, ns, key, kind, size, mode, uid, gid, mtime_ns, ctime_ns,
 *      expiration, metadata, version, value, vfile)
 *   xattr(row, name, value)     a row's user.* attributes
 *   vgc(name)                   value files to unlink (sq_gc)
 * value is the last column, so reading attributes never walks a large
 * value's overflow pages; id is the rowid that incremental blob I/O
 * needs.  Keys are BLOBs: SQLite compares them with memcmp, which is
 * Workers KV's list order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "name.h"
#include "store.h"

#define SQ_APP_ID	0x6b766673 /* "kvfs" */
#define SQ_SCHEMA	2
#define SQ_INLINE_BYTES 65536 /* values up to this go through bind/column */
#define SQ_CHUNK	(256 * 1024)
#define SQ_VFILE_NAME	33   /* 32 hex digits and a NUL */
#define SQ_ORPHAN_SEC	3600 /* an unlisted value file this old is junk */

/*
 * Large values written through the mount live as files in the folder
 * "<database>-values", named by kv.vfile (value is then empty).  A file
 * whose row goes away or gets another value is listed in vgc by these
 * triggers, in the same transaction, and unlinked after the commit
 * (sq_gc), so a crash never loses a value nor leaks a file for long.
 */
#define SQ_VFILE_SQL                                                           \
	"CREATE TABLE vgc(name TEXT PRIMARY KEY) WITHOUT ROWID;"               \
	"CREATE INDEX kv_vfile ON kv(vfile) WHERE vfile IS NOT NULL;"          \
	"CREATE TRIGGER kv_del_vfile AFTER DELETE ON kv"                       \
	" WHEN OLD.vfile IS NOT NULL BEGIN"                                    \
	" INSERT OR IGNORE INTO vgc VALUES (OLD.vfile); END;"                  \
	"CREATE TRIGGER kv_upd_vfile AFTER UPDATE OF vfile ON kv"              \
	" WHEN OLD.vfile IS NOT NULL AND OLD.vfile IS NOT NEW.vfile BEGIN"     \
	" INSERT OR IGNORE INTO vgc VALUES (OLD.vfile); END;"

/*
 * Added to schema 2 later, made at open in a database of an older kvfs
 * (which ignores them):
 * - kv_dirs, the rows of directories (kind 1), so that usage counts
 *   keys alone without a scan: the triggers count every row;
 * - ns_gone, the highest id of a removed namespace, so that no new
 *   namespace takes it: a mount that still holds a file open in the
 *   removed one must not store it into the new one.
 */
#define SQ_ADDED_SQL                                                           \
	"CREATE INDEX IF NOT EXISTS kv_dirs ON kv(ns) WHERE kind = 1;"         \
	"CREATE TABLE IF NOT EXISTS ns_gone(one INTEGER PRIMARY KEY"           \
	" CHECK (one = 0), last INTEGER NOT NULL);"                            \
	"CREATE TRIGGER IF NOT EXISTS ns_gone AFTER DELETE ON ns BEGIN"        \
	" INSERT INTO ns_gone VALUES (0, OLD.id)"                              \
	" ON CONFLICT(one) DO UPDATE SET last = max(last, OLD.id); END;"

static const char sq_schema_sql[] =
    "PRAGMA application_id = 1802921587;"
    "PRAGMA user_version = 2;"
    "CREATE TABLE ns(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " bytes INTEGER NOT NULL DEFAULT 0, keys INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE kv(id INTEGER PRIMARY KEY,"
    " ns INTEGER NOT NULL REFERENCES ns(id),"
    " key BLOB NOT NULL, kind INTEGER NOT NULL,"
    " size INTEGER NOT NULL DEFAULT 0, mode INTEGER NOT NULL DEFAULT 0,"
    " uid INTEGER NOT NULL DEFAULT -1, gid INTEGER NOT NULL DEFAULT -1,"
    " mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,"
    " expiration INTEGER NOT NULL DEFAULT 0, metadata TEXT,"
    " version INTEGER NOT NULL, value BLOB NOT NULL DEFAULT x'',"
    " vfile TEXT, UNIQUE(ns, key, kind));"
    "CREATE INDEX kv_expiration ON kv(expiration) WHERE expiration > 0;"
    "CREATE TRIGGER kv_ins AFTER INSERT ON kv BEGIN"
    " UPDATE ns SET bytes = bytes + NEW.size, keys = keys + 1"
    " WHERE id = NEW.ns; END;"
    "CREATE TRIGGER kv_del AFTER DELETE ON kv BEGIN"
    " UPDATE ns SET bytes = bytes - OLD.size, keys = keys - 1"
    " WHERE id = OLD.ns; END;"
    "CREATE TRIGGER kv_upd AFTER UPDATE OF size, ns ON kv BEGIN"
    " UPDATE ns SET bytes = bytes - OLD.size, keys = keys - 1"
    " WHERE id = OLD.ns;"
    " UPDATE ns SET bytes = bytes + NEW.size, keys = keys + 1"
    " WHERE id = NEW.ns; END;"
    "CREATE TABLE xattr(row INTEGER NOT NULL, name TEXT NOT NULL,"
    " value BLOB NOT NULL, PRIMARY KEY(row, name)) WITHOUT ROWID;"
    "CREATE TRIGGER kv_del_xattr AFTER DELETE ON kv BEGIN"
    " DELETE FROM xattr WHERE row = OLD.id; END;" SQ_VFILE_SQL SQ_ADDED_SQL;

/* From schema 1, which kept every value in kv.value. */
static const char sq_migrate_1_sql[] =
    "ALTER TABLE kv ADD COLUMN vfile TEXT;" SQ_VFILE_SQL
    "PRAGMA user_version = 2;";

#define SQ_ATTR_COLS                                                           \
	"size, mode, uid, gid, mtime_ns, ctime_ns, expiration, version"
/*
 * The + keeps SQLite from comparing ?9 with the partial index's
 * "expiration > 0": a plan that depends on a bound value is prepared
 * again at every new binding, which cost half of kvfs's CPU time.
 */
#define SQ_LIVE "(expiration = 0 OR expiration > +?9)"

enum sq_stmt_id {
	SQ_BEGIN_READ,
	SQ_BEGIN_WRITE,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_NS_LIST,
	SQ_NS_FIND,
	SQ_NS_CREATE,
	SQ_NS_ANY_ROW,
	SQ_NS_LIVE,
	SQ_NS_DROP_EXPIRED,
	SQ_NS_REMOVE,
	SQ_STAT,
	SQ_GET,
	SQ_DROP_EXPIRED,
	SQ_STAT_ANY,
	SQ_PUT,
	SQ_APPEND,
	SQ_MKDIR,
	SQ_REMOVE,
	SQ_SETATTR,
	SQ_LIST,
	SQ_LIST_OPEN,
	SQ_ANY,
	SQ_LOOKUP,
	SQ_RENAME_ROW,
	SQ_RANGE_ROWS,
	SQ_RANGE_DELETE,
	SQ_REMOVE_KEY_ANY,
	SQ_USAGE,
	SQ_NS_USAGE,
	SQ_ROW_ID,
	SQ_META_GET,
	SQ_JSON,
	SQ_META_SET,
	SQ_EXPIRE,
	SQ_XATTR_GET,
	SQ_XATTR_SET,
	SQ_XATTR_LIST,
	SQ_XATTR_REMOVE,
	SQ_XATTR_TOTAL,
	SQ_XATTR_CLEAR,
	SQ_SWEEP,
	SQ_VFILE_OF,
	SQ_APPEND_FILE,
	SQ_GC_LIST,
	SQ_GC_DONE,
	SQ_STMT_COUNT
};

/*
 * Parameters are numbered: ?1 ns, ?2 key, ?3 kind, ?9 now (seconds);
 * the rest as each statement says.
 */
static const char *const sq_stmt_sql[SQ_STMT_COUNT] = {
    [SQ_BEGIN_READ] = "BEGIN",
    [SQ_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_NS_LIST] = "SELECT id, name FROM ns ORDER BY name",
    [SQ_NS_FIND] = "SELECT id FROM ns WHERE name = ?1",
    [SQ_NS_CREATE] = "INSERT INTO ns(id, name) VALUES (max("
		     "coalesce((SELECT max(id) FROM ns), 0),"
		     " coalesce((SELECT last FROM ns_gone), 0)) + 1, ?1)",
    [SQ_NS_ANY_ROW] = "SELECT 1 FROM kv WHERE ns = ?1 LIMIT 1",
    [SQ_NS_LIVE] = "SELECT 1 FROM ns WHERE id = ?1",
    [SQ_NS_DROP_EXPIRED] =
	"DELETE FROM kv WHERE ns = ?1 AND ((expiration > 0"
	" AND expiration <= ?9) OR (key = x'' AND kind = 1))",
    [SQ_NS_REMOVE] = "DELETE FROM ns WHERE id = ?1",
    [SQ_STAT] = "SELECT " SQ_ATTR_COLS ", id FROM kv"
		" WHERE ns = ?1 AND key = ?2 AND kind = ?3 AND " SQ_LIVE,
    [SQ_GET] = "SELECT " SQ_ATTR_COLS ", id,"
	       " CASE WHEN size <= 65536 THEN value END, vfile FROM kv"
	       " WHERE ns = ?1 AND key = ?2 AND kind = 0 AND " SQ_LIVE,
    /* a row, live or expired */
    [SQ_STAT_ANY] = "SELECT " SQ_ATTR_COLS ", id FROM kv"
		    " WHERE ns = ?1 AND key = ?2 AND kind = 0",
    [SQ_DROP_EXPIRED] = "DELETE FROM kv WHERE ns = ?1 AND key = ?2"
			" AND kind = 0 AND expiration > 0"
			" AND expiration <= ?9",
    /* ?4 size ?5 value ?6 mode ?7 uid ?8 gid ?10 mtime ?11 now_ns
       ?12 keep meta ?13 metadata ?14 expiration ?15 attrs on create
       only ?16 value file or NULL */
    [SQ_PUT] = "INSERT INTO kv(ns, key, kind, size, value, mode, uid, gid,"
	       " mtime_ns, ctime_ns, expiration, metadata, version, vfile)"
	       " VALUES (?1, ?2, 0, ?4, ?5, ?6, ?7, ?8, ?10, ?11, ?14, ?13,"
	       " ?11, ?16)"
	       " ON CONFLICT(ns, key, kind) DO UPDATE SET size = ?4,"
	       " value = ?5, vfile = ?16,"
	       " mode = CASE WHEN ?15 OR ?6 = 0 THEN mode ELSE ?6 END,"
	       " uid = CASE WHEN ?15 OR ?7 = -1 THEN uid ELSE ?7 END,"
	       " gid = CASE WHEN ?15 OR ?8 = -1 THEN gid ELSE ?8 END,"
	       " mtime_ns = ?10, ctime_ns = ?11,"
	       " expiration = CASE WHEN ?12 THEN expiration ELSE ?14 END,"
	       " metadata = CASE WHEN ?12 THEN metadata ELSE ?13 END,"
	       " version = max(?11, version + 1)"
	       " RETURNING id, " SQ_ATTR_COLS,
    /* ?4 bytes to add (a zeroblob, filled in afterwards) */
    [SQ_APPEND] = "UPDATE kv SET value = value || ?5, size = size + ?4,"
		  " mtime_ns = ?10, ctime_ns = ?11,"
		  " version = max(?11, version + 1)"
		  " WHERE ns = ?1 AND key = ?2 AND kind = 0"
		  " RETURNING id, " SQ_ATTR_COLS,
    [SQ_MKDIR] = "INSERT INTO kv(ns, key, kind, mode, uid, gid, mtime_ns,"
		 " ctime_ns, version) SELECT ?1, ?2, 1, ?6, ?7, ?8, ?10,"
		 " ?11, ?11 WHERE EXISTS (SELECT 1 FROM ns WHERE id = ?1)",
    [SQ_REMOVE] = "DELETE FROM kv WHERE ns = ?1 AND key = ?2 AND kind = ?3"
		  " AND " SQ_LIVE,
    /* ?4 mask */
    [SQ_SETATTR] = "UPDATE kv SET"
		   " mode = CASE WHEN ?4 & 1 THEN ?6 ELSE mode END,"
		   " uid = CASE WHEN ?4 & 2 THEN ?7 ELSE uid END,"
		   " gid = CASE WHEN ?4 & 4 THEN ?8 ELSE gid END,"
		   " mtime_ns = CASE WHEN ?4 & 8 THEN ?10 ELSE mtime_ns END,"
		   " ctime_ns = ?11"
		   " WHERE ns = ?1 AND key = ?2 AND kind = ?3 AND " SQ_LIVE,
    /* ?2 lo ?4 hi ?5 limit */
    [SQ_LIST] = "SELECT key, kind, " SQ_ATTR_COLS ", metadata FROM kv"
		" WHERE ns = ?1 AND key >= ?2 AND key < ?4 AND " SQ_LIVE
		" ORDER BY key, kind LIMIT ?5",
    [SQ_LIST_OPEN] = "SELECT key, kind, " SQ_ATTR_COLS ", metadata FROM kv"
		     " WHERE ns = ?1 AND key >= ?2 AND " SQ_LIVE
		     " ORDER BY key, kind LIMIT ?5",
    [SQ_ANY] = "SELECT 1 FROM kv WHERE ns = ?1 AND key >= ?2 AND key < ?4"
	       " AND " SQ_LIVE " LIMIT 1",
    /* ?2 key ?5 key + '/' ?4 the end of that prefix: one row, whether
       keys start with key + '/', then the key's attributes or NULLs */
    [SQ_LOOKUP] = "SELECT EXISTS (SELECT 1 FROM kv WHERE ns = ?1"
		  " AND key >= ?5 AND key < ?4 AND " SQ_LIVE "), " SQ_ATTR_COLS
		  " FROM (SELECT 1) LEFT JOIN kv"
		  " ON ns = ?1 AND key = ?2 AND kind = 0 AND " SQ_LIVE,
    /* ?4 row id ?5 new ns ?6 new key */
    [SQ_RENAME_ROW] = "UPDATE kv SET ns = ?5, key = ?6, ctime_ns = ?11"
		      " WHERE id = ?4",
    [SQ_RANGE_ROWS] = "SELECT id, key FROM kv"
		      " WHERE ns = ?1 AND key >= ?2 AND key < ?4",
    [SQ_RANGE_DELETE] = "DELETE FROM kv"
			" WHERE ns = ?1 AND key >= ?2 AND key < ?4",
    [SQ_REMOVE_KEY_ANY] = "DELETE FROM kv WHERE ns = ?1 AND key = ?2"
			  " AND kind = ?3",
    /* The triggers count directory rows too (size 0): not keys. */
    [SQ_USAGE] = "SELECT total(bytes), total(keys) - (SELECT count(*)"
		 " FROM kv INDEXED BY kv_dirs WHERE kind = 1) FROM ns",
    [SQ_NS_USAGE] = "SELECT total(bytes), total(keys) - (SELECT count(*)"
		    " FROM kv INDEXED BY kv_dirs WHERE ns = ?1 AND kind = 1)"
		    " FROM ns WHERE id = ?1",
    [SQ_ROW_ID] = "SELECT id FROM kv"
		  " WHERE ns = ?1 AND key = ?2 AND kind = ?3 AND " SQ_LIVE,
    [SQ_META_GET] = "SELECT metadata FROM kv"
		    " WHERE ns = ?1 AND key = ?2 AND kind = 0 AND " SQ_LIVE,
    /*
     * ?1 text: its compact form; NULL or an error if it is not JSON.
     * json_valid first: SQLite 3.42 and later also take JSON5 in json()
     * ({a:1,}, 'x', 0x10, comments), which Workers KV would refuse.
     */
    [SQ_JSON] = "SELECT CASE WHEN json_valid(?1) THEN json(?1) END",
    /* ?4 metadata (NULL clears) */
    [SQ_META_SET] = "UPDATE kv SET metadata = ?4, ctime_ns = ?11"
		    " WHERE ns = ?1 AND key = ?2 AND kind = 0 AND " SQ_LIVE,
    /* ?4 expiration (0: never) */
    [SQ_EXPIRE] = "UPDATE kv SET expiration = ?4, ctime_ns = ?11"
		  " WHERE ns = ?1 AND key = ?2 AND kind = 0 AND " SQ_LIVE,
    /* ?4 row id ?5 name ?6 value */
    [SQ_XATTR_GET] = "SELECT value FROM xattr WHERE row = ?4 AND name = ?5",
    [SQ_XATTR_SET] = "INSERT INTO xattr(row, name, value) VALUES (?4, ?5, ?6)"
		     " ON CONFLICT(row, name) DO UPDATE SET value = ?6",
    [SQ_XATTR_LIST] = "SELECT name FROM xattr WHERE row = ?4 ORDER BY name",
    [SQ_XATTR_REMOVE] = "DELETE FROM xattr WHERE row = ?4 AND name = ?5",
    [SQ_XATTR_TOTAL] = "SELECT total(length(CAST(name AS BLOB))"
		       " + length(value)) FROM xattr"
		       " WHERE row = ?4 AND name != ?5",
    [SQ_XATTR_CLEAR] = "DELETE FROM xattr WHERE row = ?4",
    /* ?4 batch size */
    [SQ_SWEEP] = "DELETE FROM kv WHERE id IN (SELECT id FROM kv"
		 " WHERE expiration > 0 AND expiration <= ?9 LIMIT ?4)",
    /* ?4 row id */
    [SQ_VFILE_OF] = "SELECT vfile FROM kv WHERE id = ?4",
    /* ?4 bytes appended to the row's value file */
    [SQ_APPEND_FILE] = "UPDATE kv SET size = size + ?4,"
		       " mtime_ns = ?10, ctime_ns = ?11,"
		       " version = max(?11, version + 1)"
		       " WHERE ns = ?1 AND key = ?2 AND kind = 0"
		       " RETURNING id, " SQ_ATTR_COLS,
    [SQ_GC_LIST] = "SELECT name FROM vgc LIMIT 64",
    /* ?5 name */
    [SQ_GC_DONE] = "DELETE FROM vgc WHERE name = ?5",
};

struct sq_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ_STMT_COUNT];
	struct sq_conn *next; /* free list link, guarded by sq_store.lock */
	bool is_gc_due;	      /* this connection put a name into vgc */
};

struct sq_store {
	struct store base;
	char *path;
	char *vdir;  /* "<real path>-values" */
	int vdir_fd; /* open on vdir, -1: values stay in the database */
	int busy_timeout_ms;
	bool is_sync_full;
	pthread_mutex_t lock; /* guards free */
	struct sq_conn *free; /* idle connections */
};

/* The one place SQLite result codes become errno values. */
static int sq_errno(sqlite3 *db, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		log_warn("store: %s: database busy", what);
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_TOOBIG:
		return -EFBIG;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	default:
		/*
		 * A full disk met growing the -shm file is an I/O error to
		 * SQLite (SQLITE_IOERR_SHMSIZE); the system's errno says.
		 */
		if ((rc & 0xff) == SQLITE_IOERR && db &&
		    (sqlite3_system_errno(db) == ENOSPC ||
		     sqlite3_system_errno(db) == EDQUOT))
			return -ENOSPC;
		log_error("store: %s: %s", what,
			  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		return -EIO;
	}
}

static int64_t sq_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sq_conn_close(struct sq_conn *c)
{
	int i;

	for (i = 0; i < SQ_STMT_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close_v2(c->db);
	free(c);
}

/*
 * Whether a write left value files to unlink is told by this trigger,
 * kept in each connection's memory (TEMP): a query of vgc after every
 * write would cost a read transaction.  The flag may be set by a write
 * that then rolled back; sq_gc then finds nothing.
 */
static const char sq_gc_due_sql[] =
    "CREATE TEMP TRIGGER gc_due AFTER INSERT ON main.vgc"
    " BEGIN SELECT kvfs_gc_due(); END;";

static void sq_gc_due(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct sq_conn *c = sqlite3_user_data(ctx);

	(void)argc;
	(void)argv;
	c->is_gc_due = true;
	sqlite3_result_null(ctx);
}

/* Open one more connection to an existing kvfs database. */
static int sq_conn_open(struct sq_store *s, struct sq_conn **out)
{
	struct sq_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	rc = sqlite3_open_v2(s->path, &c->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(c->db, s->busy_timeout_ms);
	rc = sqlite3_exec(c->db,
			  s->is_sync_full ? "PRAGMA synchronous = FULL"
					  : "PRAGMA synchronous = NORMAL",
			  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(c->db, "kvfs_gc_due", 0,
					     SQLITE_UTF8 | SQLITE_DIRECTONLY, c,
					     sq_gc_due, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->db, sq_gc_due_sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	*out = c;
	return 0;
fail:
	rc = sq_errno(c->db, rc, "open connection");
	sq_conn_close(c);
	return rc ? rc : -EIO;
}

static int sq_acquire(struct sq_store *s, struct sq_conn **out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->free;
	if (*out)
		s->free = (*out)->next;
	pthread_mutex_unlock(&s->lock);
	if (*out)
		return 0;
	return sq_conn_open(s, out);
}

static void sq_gc(struct sq_store *s, struct sq_conn *c);

static void sq_release(struct sq_store *s, struct sq_conn *c)
{
	if (s->vdir_fd >= 0 && c->is_gc_due)
		sq_gc(s, c);
	pthread_mutex_lock(&s->lock);
	c->next = s->free;
	s->free = c;
	pthread_mutex_unlock(&s->lock);
}

/*
 * The prepared statement id of connection c, reset and with ?9 (now,
 * seconds) and ?11 (now, nanoseconds) bound when the statement has
 * them.  NULL on failure (logged).
 */
static sqlite3_stmt *sq_stmt(struct sq_conn *c, enum sq_stmt_id id)
{
	sqlite3_stmt *st = c->stmt[id];
	int64_t now_ns = sq_now_ns();
	int rc;

	if (!st) {
		rc = sqlite3_prepare_v3(c->db, sq_stmt_sql[id], -1,
					SQLITE_PREPARE_PERSISTENT, &st, NULL);
		if (rc != SQLITE_OK) {
			log_error("store: prepare: %s", sqlite3_errmsg(c->db));
			return NULL;
		}
		c->stmt[id] = st;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (sqlite3_bind_parameter_count(st) >= 9)
		sqlite3_bind_int64(st, 9, now_ns / 1000000000);
	if (sqlite3_bind_parameter_count(st) >= 11)
		sqlite3_bind_int64(st, 11, now_ns);
	return st;
}

/* Run a statement that returns no rows. */
static int sq_exec(struct sq_conn *c, enum sq_stmt_id id)
{
	sqlite3_stmt *st = sq_stmt(c, id);
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return sq_errno(c->db, rc, sq_stmt_sql[id]);
}

static int sq_begin(struct sq_conn *c, bool write)
{
	return sq_exec(c, write ? SQ_BEGIN_WRITE : SQ_BEGIN_READ);
}

/* Commit if rc is 0, else roll back; returns the first error. */
static int sq_end(struct sq_conn *c, int rc)
{
	int rc2;

	if (rc == 0) {
		rc = sq_exec(c, SQ_COMMIT);
		if (rc == 0)
			return 0;
	}
	/* A failed COMMIT may have rolled back already. */
	if (!sqlite3_get_autocommit(c->db)) {
		rc2 = sq_exec(c, SQ_ROLLBACK);
		(void)rc2;
	}
	return rc;
}

/*
 * Unlink the value files that committed changes left behind (listed in
 * vgc by the triggers).  Best effort: a file that cannot be unlinked
 * stays listed until a later write lists one more or the next start,
 * in this process or another one using the database.
 */
static void sq_gc(struct sq_store *s, struct sq_conn *c)
{
	char names[64][SQ_VFILE_NAME];
	sqlite3_stmt *st = sq_stmt(c, SQ_GC_LIST);
	int i, n = 0, rc;

	c->is_gc_due = false;
	if (!st)
		return;
	while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (name && strlen(name) < SQ_VFILE_NAME && !strchr(name, '/'))
			strcpy(names[n++], name);
	}
	sqlite3_reset(st);
	if (n == 0)
		return;
	/* A full page may have more behind it; a busy database, all. */
	c->is_gc_due = n == 64;
	if (sq_begin(c, true)) {
		c->is_gc_due = true;
		return;
	}
	for (i = 0, rc = 0; i < n && rc == 0; i++) {
		if (unlinkat(s->vdir_fd, names[i], 0) && errno != ENOENT) {
			log_warn("store: cannot remove %s/%s: %s", s->vdir,
				 names[i], strerror(errno));
			continue;
		}
		st = sq_stmt(c, SQ_GC_DONE);
		if (!st)
			break;
		sqlite3_bind_text(st, 5, names[i], -1, SQLITE_STATIC);
		rc = sq_errno(c->db, sqlite3_step(st), "remove value file");
		sqlite3_reset(st);
	}
	if (sq_end(c, rc))
		c->is_gc_due = true;
}

/*
 * Make the unlinked file fd (size bytes) the value file of a put: link
 * it into vdir under a new random name, written to name.  With sync =
 * full the file and the folder reach the disk before the row does.
 */
static int sq_vfile_link(struct sq_store *s, int fd, uint64_t size,
			 char name[SQ_VFILE_NAME])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[(SQ_VFILE_NAME - 1) / 2];
	char proc[64];
	struct stat sb;
	size_t i;

	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != size)
		return -EINVAL;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	for (i = 0; i < sizeof(r); i++) {
		name[2 * i] = hex[r[i] >> 4];
		name[2 * i + 1] = hex[r[i] & 15];
	}
	name[2 * sizeof(r)] = '\0';
	/*
	 * The orphan sweep takes a file unnamed for an hour for junk: the
	 * link, not the last write, starts that hour (a file written long
	 * before its close may wait busy_timeout_ms for the database after
	 * it, while another process opens the store and sweeps).
	 */
	if (futimens(fd, NULL))
		return -errno;
	if (s->is_sync_full && fdatasync(fd))
		return -EIO;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, s->vdir_fd, name, AT_SYMLINK_FOLLOW))
		return -errno;
	if (s->is_sync_full && fsync(s->vdir_fd)) {
		unlinkat(s->vdir_fd, name, 0);
		return -EIO;
	}
	return 0;
}

/* Append put's bytes to the value file name at offset at. */
static int sq_vfile_append(struct sq_store *s, const char *name, uint64_t at,
			   const struct store_put *put)
{
	uint64_t off;
	void *buf;
	int fd, rc = 0;

	fd = openat(s->vdir_fd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOSPC ? -ENOSPC : -EIO;
	buf = malloc(SQ_CHUNK);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (off = 0; off < put->size && rc == 0; off += SQ_CHUNK) {
		size_t n =
		    put->size - off < SQ_CHUNK ? put->size - off : SQ_CHUNK;

		rc = put->read(put->ctx, off, buf, n);
		if (rc == 0 &&
		    pwrite(fd, buf, n, (off_t)(at + off)) != (ssize_t)n)
			rc = errno == ENOSPC ? -ENOSPC : -EIO;
	}
	if (rc == 0 && s->is_sync_full && fdatasync(fd))
		rc = -EIO;
	free(buf);
	close(fd);
	return rc;
}

static void sq_bind_key(sqlite3_stmt *st, int64_t ns, const char *key,
			size_t key_len)
{
	sqlite3_bind_int64(st, 1, ns);
	sqlite3_bind_blob(st, 2, key, (int)key_len, SQLITE_STATIC);
}

/* Read the SQ_ATTR_COLS columns starting at column col. */
static void sq_attr_read(sqlite3_stmt *st, int col, struct store_attr *a)
{
	a->size = (uint64_t)sqlite3_column_int64(st, col);
	a->mode = (uint32_t)sqlite3_column_int64(st, col + 1);
	a->uid = sqlite3_column_int64(st, col + 2);
	a->gid = sqlite3_column_int64(st, col + 3);
	a->mtime_ns = sqlite3_column_int64(st, col + 4);
	a->ctime_ns = sqlite3_column_int64(st, col + 5);
	a->expiration = sqlite3_column_int64(st, col + 6);
	a->version = (uint64_t)sqlite3_column_int64(st, col + 7);
}

static void sq_close(struct store *base)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;

	while ((c = s->free)) {
		s->free = c->next;
		sq_conn_close(c);
	}
	pthread_mutex_destroy(&s->lock);
	if (s->vdir_fd >= 0)
		close(s->vdir_fd);
	free(s->vdir);
	free(s->path);
	free(s);
}

static int sq_ns_list(struct store *base, store_ns_fn fn, void *ctx)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	st = sq_stmt(c, SQ_NS_LIST);
	rc = st ? 0 : -EIO;
	while (rc == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = fn(ctx, sqlite3_column_int64(st, 0),
			(const char *)sqlite3_column_text(st, 1));
		if (rc > 0)
			rc = SQLITE_DONE;
	}
	if (rc > 0)
		rc = sq_errno(c->db, rc, "list namespaces");
	if (st)
		sqlite3_reset(st);
	sq_release(s, c);
	return rc;
}

static int sq_ns_find_on(struct sq_conn *c, const char *name, int64_t *ns)
{
	sqlite3_stmt *st = sq_stmt(c, SQ_NS_FIND);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ns = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT
				       : sq_errno(c->db, rc, "find namespace");
	}
	sqlite3_reset(st);
	return rc;
}

static int sq_ns_find(struct store *base, const char *name, int64_t *ns)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	rc = sq_ns_find_on(c, name, ns);
	sq_release(s, c);
	return rc;
}

static int sq_ns_create(struct store *base, const char *name, int64_t *ns)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	st = sq_stmt(c, SQ_NS_CREATE);
	if (!st) {
		rc = -EIO;
		goto release;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sq_errno(c->db, sqlite3_step(st), "create namespace");
	sqlite3_reset(st);
	if (rc == 0)
		*ns = sqlite3_last_insert_rowid(c->db);
release:
	sq_release(s, c);
	return rc;
}

static int sq_ns_remove(struct store *base, const char *name)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int64_t ns;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	rc = sq_begin(c, true);
	if (rc)
		goto release;
	rc = sq_ns_find_on(c, name, &ns);
	if (rc == 0) {
		/*
		 * Expired keys count as missing, and the namespace's own
		 * attributes (a directory row "") go with it.
		 */
		st = sq_stmt(c, SQ_NS_DROP_EXPIRED);
		sqlite3_bind_int64(st, 1, ns);
		rc = sq_errno(c->db, sqlite3_step(st), "remove namespace");
		sqlite3_reset(st);
	}
	if (rc == 0) {
		st = sq_stmt(c, SQ_NS_ANY_ROW);
		sqlite3_bind_int64(st, 1, ns);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_ROW	 ? -ENOTEMPTY
		     : rc == SQLITE_DONE ? 0
					 : sq_errno(c->db, rc, "namespace");
		sqlite3_reset(st);
	}
	if (rc == 0) {
		st = sq_stmt(c, SQ_NS_REMOVE);
		sqlite3_bind_int64(st, 1, ns);
		rc = sq_errno(c->db, sqlite3_step(st), "remove namespace");
		sqlite3_reset(st);
	}
	rc = sq_end(c, rc);
release:
	sq_release(s, c);
	return rc;
}

static int sq_stat_on(struct sq_conn *c, int64_t ns, const char *key,
		      size_t key_len, enum store_kind kind,
		      struct store_attr *attr, int64_t *rowid)
{
	sqlite3_stmt *st = sq_stmt(c, SQ_STAT);
	int rc;

	if (!st)
		return -EIO;
	sq_bind_key(st, ns, key, key_len);
	sqlite3_bind_int(st, 3, kind);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (attr)
			sq_attr_read(st, 0, attr);
		if (rowid)
			*rowid = sqlite3_column_int64(st, 8);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : sq_errno(c->db, rc, "stat");
	}
	sqlite3_reset(st);
	return rc;
}

static int sq_stat(struct store *base, int64_t ns, const char *key,
		   size_t key_len, enum store_kind kind,
		   struct store_attr *attr)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	rc = sq_stat_on(c, ns, key, key_len, kind, attr, NULL);
	sq_release(s, c);
	return rc;
}

/* Stream a large value through incremental blob I/O. */
static int sq_blob_to_sink(struct sq_conn *c, int64_t rowid, uint64_t size,
			   store_sink_fn fn, void *ctx)
{
	sqlite3_blob *blob;
	uint64_t off;
	void *buf;
	int rc;

	rc = sqlite3_blob_open(c->db, "main", "kv", "value", rowid, 0, &blob);
	if (rc != SQLITE_OK)
		return sq_errno(c->db, rc, "open value");
	buf = malloc(SQ_CHUNK);
	if (!buf) {
		sqlite3_blob_close(blob);
		return -ENOMEM;
	}
	for (off = 0, rc = 0; off < size && rc == 0; off += SQ_CHUNK) {
		int n = size - off < SQ_CHUNK ? (int)(size - off) : SQ_CHUNK;

		rc = sqlite3_blob_read(blob, buf, n, (int)off);
		rc = rc == SQLITE_OK ? fn(ctx, buf, (size_t)n)
				     : sq_errno(c->db, rc, "read value");
	}
	free(buf);
	sqlite3_blob_close(blob);
	return rc;
}

/* Stream size bytes of the value file fd into fn. */
static int sq_fd_to_sink(int fd, uint64_t size, store_sink_fn fn, void *ctx)
{
	uint64_t off;
	ssize_t n;
	void *buf = malloc(SQ_CHUNK);
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (off = 0; off < size && rc == 0; off += (uint64_t)n) {
		size_t want = size - off < SQ_CHUNK ? size - off : SQ_CHUNK;

		n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		rc = n <= 0 ? -EIO : fn(ctx, buf, (size_t)n);
	}
	free(buf);
	return rc;
}

/*
 * A value and its attributes: streamed into fn when it is at most
 * max_size bytes, or, with fd_out and a value file, as a descriptor of
 * that file (*fd_out, else -1) instead.  A value file can be unlinked
 * by a put committed after this read's snapshot: -EAGAIN, read again.
 */
static int sq_value(struct sq_store *s, int64_t ns, const char *key,
		    size_t key_len, uint64_t max_size, store_sink_fn fn,
		    void *ctx, struct store_attr *attr, int *fd_out)
{
	char vfile[SQ_VFILE_NAME] = "";
	struct store_attr a;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int64_t rowid;
	int rc, fd;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	rc = sq_begin(c, false);
	if (rc)
		goto release;
	st = sq_stmt(c, SQ_GET);
	if (!st) {
		rc = -EIO;
		goto end;
	}
	sq_bind_key(st, ns, key, key_len);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? -ENOENT : sq_errno(c->db, rc, "get");
		sqlite3_reset(st);
		goto end;
	}
	sq_attr_read(st, 0, &a);
	rowid = sqlite3_column_int64(st, 8);
	if (sqlite3_column_type(st, 10) == SQLITE_TEXT &&
	    sqlite3_column_bytes(st, 10) < SQ_VFILE_NAME)
		strcpy(vfile, (const char *)sqlite3_column_text(st, 10));
	if (vfile[0] && (fd_out || a.size <= max_size)) {
		sqlite3_reset(st);
		fd = s->vdir_fd < 0
			 ? -1
			 : openat(s->vdir_fd, vfile, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = errno == ENOENT ? -EAGAIN : -EIO;
		} else if (fd_out) {
			*fd_out = fd;
			rc = 0;
		} else {
			rc = sq_fd_to_sink(fd, a.size, fn, ctx);
			close(fd);
		}
	} else if (fd_out || a.size > max_size) {
		sqlite3_reset(st);
		rc = 0;
	} else if (a.size <= SQ_INLINE_BYTES) {
		const void *p = sqlite3_column_blob(st, 9);

		rc = a.size ? fn(ctx, p, a.size) : 0;
		sqlite3_reset(st);
	} else {
		sqlite3_reset(st);
		rc = sq_blob_to_sink(c, rowid, a.size, fn, ctx);
	}
	if (rc == 0 && attr)
		*attr = a;
end:
	sq_end(c, 0);
release:
	sq_release(s, c);
	return rc;
}

static int sq_peek(struct store *base, int64_t ns, const char *key,
		   size_t key_len, uint64_t max_size, store_sink_fn fn,
		   void *ctx, struct store_attr *attr)
{
	int rc, tries = 0;

	/*
	 * A sink that saw part of a value before -EAGAIN cannot take it
	 * again; values are streamed from their file only after it is
	 * open, so -EAGAIN always comes before the first byte.
	 */
	do
		rc = sq_value((struct sq_store *)base, ns, key, key_len,
			      max_size, fn, ctx, attr, NULL);
	while (rc == -EAGAIN && ++tries < 8);
	return rc == -EAGAIN ? -EIO : rc;
}

static int sq_get(struct store *base, int64_t ns, const char *key,
		  size_t key_len, store_sink_fn fn, void *ctx,
		  struct store_attr *attr)
{
	return sq_peek(base, ns, key, key_len, UINT64_MAX, fn, ctx, attr);
}

static int sq_open_value(struct store *base, int64_t ns, const char *key,
			 size_t key_len, int *fd, struct store_attr *attr)
{
	int rc, tries = 0;

	*fd = -1;
	do
		rc = sq_value((struct sq_store *)base, ns, key, key_len, 0,
			      NULL, NULL, attr, fd);
	while (rc == -EAGAIN && ++tries < 8);
	return rc == -EAGAIN ? -EIO : rc;
}

/* Fill a blob of a freshly written row from the put's read callback. */
static int sq_blob_from_put(struct sq_conn *c, int64_t rowid, uint64_t at,
			    const struct store_put *put)
{
	sqlite3_blob *blob;
	uint64_t off;
	void *buf;
	int rc;

	rc = sqlite3_blob_open(c->db, "main", "kv", "value", rowid, 1, &blob);
	if (rc != SQLITE_OK)
		return sq_errno(c->db, rc, "open value");
	buf = malloc(SQ_CHUNK);
	if (!buf) {
		sqlite3_blob_close(blob);
		return -ENOMEM;
	}
	for (off = 0, rc = 0; off < put->size && rc == 0; off += SQ_CHUNK) {
		size_t n =
		    put->size - off < SQ_CHUNK ? put->size - off : SQ_CHUNK;

		rc = put->read(put->ctx, off, buf, n);
		if (rc == 0) {
			rc = sqlite3_blob_write(blob, buf, (int)n,
						(int)(at + off));
			rc = sq_errno(c->db, rc, "write value");
		}
	}
	free(buf);
	sqlite3_blob_close(blob);
	return rc;
}

/*
 * Bind the value parameter ?5: small values inline (read into *inline_buf,
 * which the caller frees), large ones as a zeroblob filled afterwards.
 */
static int sq_bind_value(sqlite3_stmt *st, const struct store_put *put,
			 void **inline_buf)
{
	*inline_buf = NULL;
	if (put->size > SQ_INLINE_BYTES)
		return sq_errno(NULL, sqlite3_bind_zeroblob64(st, 5, put->size),
				"bind value");
	*inline_buf = malloc(put->size ? put->size : 1);
	if (!*inline_buf)
		return -ENOMEM;
	if (put->size) {
		int rc = put->read(put->ctx, 0, *inline_buf, put->size);

		if (rc)
			return rc;
	}
	sqlite3_bind_blob(st, 5, *inline_buf, (int)put->size, SQLITE_STATIC);
	return 0;
}

/* Step a statement with RETURNING id, attrs; fill rowid and *out. */
static int sq_step_returning(struct sq_conn *c, sqlite3_stmt *st,
			     int64_t *rowid, struct store_attr *out)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		*rowid = sqlite3_column_int64(st, 0);
		if (out)
			sq_attr_read(st, 1, out);
		rc = sqlite3_step(st);
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return -ENOENT;
	}
	rc = sq_errno(c->db, rc, "put");
	sqlite3_reset(st);
	return rc;
}

/* The value file of row rowid into name ("" if none). */
static int sq_vfile_of(struct sq_conn *c, int64_t rowid,
		       char name[SQ_VFILE_NAME])
{
	sqlite3_stmt *st = sq_stmt(c, SQ_VFILE_OF);
	const char *v;
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 4, rowid);
	rc = sqlite3_step(st);
	v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	name[0] = '\0';
	if (v && strlen(v) < SQ_VFILE_NAME)
		strcpy(name, v);
	rc = rc == SQLITE_ROW ? 0 : sq_errno(c->db, rc, "value file");
	sqlite3_reset(st);
	return rc;
}

/*
 * The key's row for a put (inside its write transaction): an expired
 * row is deleted first, so that the put starts fresh (-ENOENT).
 */
static int sq_stat_put(struct sq_conn *c, int64_t ns, const char *key,
		       size_t key_len, struct store_attr *a, int64_t *rowid)
{
	sqlite3_stmt *st = sq_stmt(c, SQ_STAT_ANY);
	int64_t now = sq_now_ns() / 1000000000;
	int rc;

	if (!st)
		return -EIO;
	sq_bind_key(st, ns, key, key_len);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sq_attr_read(st, 0, a);
		*rowid = sqlite3_column_int64(st, 8);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : sq_errno(c->db, rc, "stat");
	}
	sqlite3_reset(st);
	if (rc || a->expiration == 0 || a->expiration > now)
		return rc;
	st = sq_stmt(c, SQ_DROP_EXPIRED);
	if (!st)
		return -EIO;
	sq_bind_key(st, ns, key, key_len);
	rc = sq_errno(c->db, sqlite3_step(st), "drop expired");
	sqlite3_reset(st);
	return rc ? rc : -ENOENT;
}

/*
 * -ENOENT if namespace ns is gone: another mount removed it while this
 * one held a file open in it.  No later namespace gets its id (ns_gone),
 * unless an older kvfs, which reuses the highest, makes it.
 */
static int sq_ns_live(struct sq_conn *c, int64_t ns)
{
	sqlite3_stmt *st = sq_stmt(c, SQ_NS_LIVE);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, ns);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_ROW	 ? 0
	     : rc == SQLITE_DONE ? -ENOENT
				 : sq_errno(c->db, rc, "namespace");
	sqlite3_reset(st);
	return rc;
}

/*
 * Put a value on connection c, inside a write transaction.  vfile: the
 * name of a value file already linked by sq_vfile_link() that holds
 * the value (not for appends), or NULL to store the bytes in the row.
 */
static int sq_put_on(struct sq_store *s, struct sq_conn *c, int64_t ns,
		     const char *key, size_t key_len,
		     const struct store_put *put, const char *vfile,
		     struct store_attr *out)
{
	bool append = put->flags & STORE_PUT_APPEND;
	char cur_vfile[SQ_VFILE_NAME] = "";
	struct store_attr cur;
	sqlite3_stmt *st;
	void *inline_buf = NULL;
	uint64_t at = 0;
	int64_t rowid = 0, cur_row = 0;
	int rc;

	rc = sq_stat_put(c, ns, key, key_len, &cur, &cur_row);
	if (rc == -ENOENT && sq_ns_live(c, ns) == -ENOENT)
		return -ENOENT;
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == 0 && (put->flags & STORE_PUT_EXCL))
		return -EEXIST;
	if (rc == 0 && append) {
		if (cur.size + put->size > STORE_VALUE_MAX)
			return -EFBIG;
		at = cur.size;
		rc = sq_vfile_of(c, cur_row, cur_vfile);
		if (rc)
			return rc;
	} else {
		append = false;
	}

	/*
	 * A value file grows in place: readers of the value as it was
	 * read only its first cur.size bytes, and bytes past the row's
	 * size after a failed append are overwritten by the next one.
	 */
	if (cur_vfile[0]) {
		rc = sq_vfile_append(s, cur_vfile, at, put);
		if (rc)
			return rc;
	}
	st = sq_stmt(c, cur_vfile[0] ? SQ_APPEND_FILE
			: append     ? SQ_APPEND
				     : SQ_PUT);
	if (!st)
		return -EIO;
	sq_bind_key(st, ns, key, key_len);
	sqlite3_bind_int64(st, 4, (int64_t)put->size);
	if (cur_vfile[0]) {
		rc = 0;
	} else if (append) {
		rc = sq_errno(NULL, sqlite3_bind_zeroblob64(st, 5, put->size),
			      "bind value");
	} else if (vfile) {
		sqlite3_bind_zeroblob(st, 5, 0);
		sqlite3_bind_text(st, 16, vfile, -1, SQLITE_STATIC);
		rc = 0;
	} else {
		rc = sq_bind_value(st, put, &inline_buf);
	}
	if (rc)
		goto done;
	sqlite3_bind_int64(st, 6, put->attr.mode);
	sqlite3_bind_int64(st, 7, put->attr.uid);
	sqlite3_bind_int64(st, 8, put->attr.gid);
	sqlite3_bind_int64(
	    st, 10, put->attr.mtime_ns ? put->attr.mtime_ns : sq_now_ns());
	sqlite3_bind_int(st, 12, !!(put->flags & STORE_PUT_KEEP_META));
	if (put->metadata)
		sqlite3_bind_text(st, 13, put->metadata, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, put->expiration);
	sqlite3_bind_int(st, 15, !!(put->flags & STORE_PUT_NEW_ONLY_ATTR));
	rc = sq_step_returning(c, st, &rowid, out);
	if (rc)
		goto done;
	if (!(put->flags & STORE_PUT_KEEP_META) && !append) {
		sqlite3_stmt *clear = sq_stmt(c, SQ_XATTR_CLEAR);

		if (!clear) {
			rc = -EIO;
			goto done;
		}
		sqlite3_bind_int64(clear, 4, rowid);
		rc = sq_errno(c->db, sqlite3_step(clear), "put");
		sqlite3_reset(clear);
		if (rc)
			goto done;
	}
	if (!cur_vfile[0] && !vfile && (append || put->size > SQ_INLINE_BYTES))
		rc = sq_blob_from_put(c, rowid, at, put);
done:
	sqlite3_clear_bindings(st);
	free(inline_buf);
	return rc;
}

static int sq_put(struct store *base, int64_t ns, const char *key,
		  size_t key_len, const struct store_put *put,
		  struct store_attr *out)
{
	struct sq_store *s = (struct sq_store *)base;
	char vfile[SQ_VFILE_NAME];
	bool is_linked = false;
	struct sq_conn *c;
	int rc;

	if (key_len > STORE_KEY_MAX)
		return -ENAMETOOLONG;
	if (put->size > STORE_VALUE_MAX)
		return -EFBIG;
	/* Anything that keeps the file from being linked: copy instead. */
	if ((put->flags & STORE_PUT_FD) && !(put->flags & STORE_PUT_APPEND) &&
	    put->size > SQ_INLINE_BYTES && s->vdir_fd >= 0 &&
	    sq_vfile_link(s, put->fd, put->size, vfile) == 0)
		is_linked = true;
	rc = sq_acquire(s, &c);
	if (rc == 0) {
		rc = sq_begin(c, true);
		if (rc == 0)
			rc =
			    sq_end(c, sq_put_on(s, c, ns, key, key_len, put,
						is_linked ? vfile : NULL, out));
		sq_release(s, c);
	}
	if (rc && is_linked)
		unlinkat(s->vdir_fd, vfile, 0);
	return rc;
}

static int sq_mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	memcpy(buf, (const char *)ctx + off, len);
	return 0;
}

static int sq_put_many(struct store *base, int64_t ns,
		       const struct store_item *items, size_t n, size_t *failed)
{
	struct sq_store *s = (struct sq_store *)base;
	struct store_put put;
	struct sq_conn *c;
	size_t i;
	int rc;

	*failed = n;
	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	rc = sq_begin(c, true);
	for (i = 0; rc == 0 && i < n; i++) {
		put = (struct store_put){.size = items[i].size,
					 .read = sq_mem_read,
					 .ctx = (void *)items[i].value,
					 .metadata = items[i].metadata,
					 .expiration = items[i].expiration};
		put.attr.uid = -1;
		put.attr.gid = -1;
		rc = items[i].size > STORE_VALUE_MAX
			 ? -EFBIG
			 : sq_put_on(s, c, ns, items[i].key, items[i].key_len,
				     &put, NULL, NULL);
		if (rc)
			*failed = i;
	}
	rc = sq_end(c, rc);
	sq_release(s, c);
	return rc;
}

static int sq_mkdir(struct store *base, int64_t ns, const char *prefix,
		    size_t prefix_len, const struct store_attr *attr)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	st = sq_stmt(c, SQ_MKDIR);
	if (!st) {
		rc = -EIO;
		goto release;
	}
	sq_bind_key(st, ns, prefix, prefix_len);
	sqlite3_bind_int64(st, 6, attr->mode);
	sqlite3_bind_int64(st, 7, attr->uid);
	sqlite3_bind_int64(st, 8, attr->gid);
	sqlite3_bind_int64(st, 10,
			   attr->mtime_ns ? attr->mtime_ns : sq_now_ns());
	rc = sq_errno(c->db, sqlite3_step(st), "mkdir");
	sqlite3_reset(st);
	if (rc == 0 && sqlite3_changes(c->db) == 0)
		rc = -ENOENT; /* the namespace is gone */
release:
	sq_release(s, c);
	return rc;
}

/*
 * Run a statement that changes the row (ns, key, kind): ?4 gets arg
 * (a mask, an expiration) when the statement has it, ?6 to ?10 attr's
 * fields when attr is given.  -ENOENT if no live row changed.
 */
static int sq_change_row(struct sq_store *s, enum sq_stmt_id id, int64_t ns,
			 const char *key, size_t key_len, enum store_kind kind,
			 int64_t arg, const struct store_attr *attr)
{
	struct sq_conn *c;
	sqlite3_stmt *st;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	st = sq_stmt(c, id);
	if (!st) {
		rc = -EIO;
		goto release;
	}
	sq_bind_key(st, ns, key, key_len);
	sqlite3_bind_int(st, 3, kind);
	if (sqlite3_bind_parameter_count(st) >= 4)
		sqlite3_bind_int64(st, 4, arg);
	if (attr) {
		sqlite3_bind_int64(st, 6, attr->mode);
		sqlite3_bind_int64(st, 7, attr->uid);
		sqlite3_bind_int64(st, 8, attr->gid);
		sqlite3_bind_int64(st, 10, attr->mtime_ns);
	}
	rc = sq_errno(c->db, sqlite3_step(st), sq_stmt_sql[id]);
	sqlite3_reset(st);
	if (rc == 0 && sqlite3_changes(c->db) == 0)
		rc = -ENOENT;
release:
	sq_release(s, c);
	return rc;
}

static int sq_remove(struct store *base, int64_t ns, const char *key,
		     size_t key_len, enum store_kind kind)
{
	return sq_change_row((struct sq_store *)base, SQ_REMOVE, ns, key,
			     key_len, kind, 0, NULL);
}

static int sq_setattr(struct store *base, int64_t ns, const char *key,
		      size_t key_len, enum store_kind kind, int mask,
		      const struct store_attr *attr)
{
	return sq_change_row((struct sq_store *)base, SQ_SETATTR, ns, key,
			     key_len, kind, mask, attr);
}

static void sq_bind_range(sqlite3_stmt *st, int64_t ns, const char *lo,
			  size_t lo_len, const char *hi, size_t hi_len)
{
	sqlite3_bind_int64(st, 1, ns);
	sqlite3_bind_blob(st, 2, lo ? lo : "", (int)lo_len, SQLITE_STATIC);
	if (hi)
		sqlite3_bind_blob(st, 4, hi, (int)hi_len, SQLITE_STATIC);
}

static int sq_list(struct store *base, int64_t ns, const char *lo,
		   size_t lo_len, const char *hi, size_t hi_len, int limit,
		   store_row_fn fn, void *ctx)
{
	struct sq_store *s = (struct sq_store *)base;
	struct store_row row;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int rc, step;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	st = sq_stmt(c, hi ? SQ_LIST : SQ_LIST_OPEN);
	if (!st) {
		rc = -EIO;
		goto release;
	}
	sq_bind_range(st, ns, lo, lo_len, hi, hi_len);
	sqlite3_bind_int(st, 5, limit);
	rc = 0;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		row.key = sqlite3_column_blob(st, 0);
		row.key_len = (size_t)sqlite3_column_bytes(st, 0);
		if (!row.key)
			row.key = "";
		row.kind = (enum store_kind)sqlite3_column_int(st, 1);
		sq_attr_read(st, 2, &row.attr);
		row.metadata = (const char *)sqlite3_column_text(st, 10);
		rc = fn(ctx, &row);
		if (rc)
			break;
	}
	if (rc > 0)
		rc = 0; /* the callback stopped early */
	else if (rc == 0)
		rc = sq_errno(c->db, step, "list");
	sqlite3_reset(st);
release:
	sq_release(s, c);
	return rc;
}

static int sq_any(struct store *base, int64_t ns, const char *lo, size_t lo_len,
		  const char *hi, size_t hi_len)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	st = sq_stmt(c, SQ_ANY);
	if (!st) {
		rc = -EIO;
		goto release;
	}
	sq_bind_range(st, ns, lo, lo_len, hi, hi_len);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_ROW	 ? 1
	     : rc == SQLITE_DONE ? 0
				 : sq_errno(c->db, rc, "any");
	sqlite3_reset(st);
release:
	sq_release(s, c);
	return rc;
}

static int sq_lookup(struct store *base, int64_t ns, const char *key,
		     size_t key_len, struct store_attr *attr, bool *is_dir)
{
	struct sq_store *s = (struct sq_store *)base;
	char lo[STORE_KEY_MAX + 2], hi[STORE_KEY_MAX + 2];
	struct sq_conn *c;
	sqlite3_stmt *st;
	int rc;

	*is_dir = false;
	if (!store_children_range(key, key_len, lo, hi)) /* none can */
		return sq_stat(base, ns, key, key_len, STORE_KEY, attr);
	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	st = sq_stmt(c, SQ_LOOKUP);
	if (!st) {
		rc = -EIO;
		goto release;
	}
	sq_bind_range(st, ns, key, key_len, hi, key_len + 1);
	sqlite3_bind_blob(st, 5, lo, (int)key_len + 1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*is_dir = sqlite3_column_int(st, 0) != 0;
		rc = *is_dir || sqlite3_column_type(st, 1) != SQLITE_NULL
			 ? 0
			 : -ENOENT;
		if (rc == 0 && !*is_dir && attr)
			sq_attr_read(st, 1, attr);
	} else {
		rc = sq_errno(c->db, rc, "lookup");
		rc = rc ? rc : -EIO;
	}
	sqlite3_reset(st);
release:
	sq_release(s, c);
	return rc;
}

static int sq_rename_row(struct sq_conn *c, int64_t rowid, int64_t ns,
			 const char *key, size_t key_len)
{
	sqlite3_stmt *st = sq_stmt(c, SQ_RENAME_ROW);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 4, rowid);
	sqlite3_bind_int64(st, 5, ns);
	sqlite3_bind_blob(st, 6, key, (int)key_len, SQLITE_STATIC);
	rc = sq_errno(c->db, sqlite3_step(st), "rename");
	sqlite3_reset(st);
	return rc;
}

static int sq_rename_key(struct sq_conn *c, int64_t from_ns, const char *from,
			 size_t from_len, int64_t to_ns, const char *to,
			 size_t to_len, bool noreplace)
{
	sqlite3_stmt *st;
	int64_t rowid;
	int rc;

	rc = sq_stat_on(c, from_ns, from, from_len, STORE_KEY, NULL, &rowid);
	if (rc)
		return rc;
	rc = sq_stat_on(c, to_ns, to, to_len, STORE_KEY, NULL, NULL);
	if (rc == 0 && noreplace)
		return -EEXIST;
	if (rc && rc != -ENOENT)
		return rc;
	st = sq_stmt(c, SQ_REMOVE_KEY_ANY);
	if (!st)
		return -EIO;
	sq_bind_key(st, to_ns, to, to_len);
	sqlite3_bind_int(st, 3, STORE_KEY);
	rc = sq_errno(c->db, sqlite3_step(st), "rename");
	sqlite3_reset(st);
	if (rc)
		return rc;
	return sq_rename_row(c, rowid, to_ns, to, to_len);
}

/*
 * Move every row under prefix from to prefix to.  The target range is
 * emptied first (the file system allows a directory to replace only an
 * empty one, and a stored empty directory is one STORE_DIR row).
 */
static int sq_rename_dir(struct sq_conn *c, int64_t from_ns, const char *from,
			 size_t from_len, int64_t to_ns, const char *to,
			 size_t to_len, bool noreplace)
{
	char from_end[STORE_KEY_MAX + 2], to_end[STORE_KEY_MAX + 2];
	char key[STORE_KEY_MAX * 2 + 2];
	sqlite3_stmt *st, *rows;
	int rc, i;

	store_prefix_end(from, from_len, from_end);
	store_prefix_end(to, to_len, to_end);

	/*
	 * The target may hold its own row (an empty directory, replaced)
	 * and nothing else.  The caller looked before this transaction,
	 * but another mount or the CLI may have stored under it since:
	 * that is checked here, where no one else writes, or the range
	 * delete below would take what they stored.
	 */
	memcpy(key, to, to_len);
	key[to_len] = '\0'; /* the least key under the target */
	for (i = 0; i < 2; i++) {
		st = sq_stmt(c, SQ_ANY);
		if (!st)
			return -EIO;
		sq_bind_range(st, to_ns, i ? key : to, to_len + (size_t)i,
			      to_end, to_len);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_ROW	 ? 1
		     : rc == SQLITE_DONE ? 0
					 : sq_errno(c->db, rc, "any");
		sqlite3_reset(st);
		if (rc < 0)
			return rc;
		if (rc == 1 && noreplace)
			return -EEXIST;
		if (rc == 1 && i == 1)
			return -ENOTEMPTY;
	}

	st = sq_stmt(c, SQ_RANGE_DELETE);
	if (!st)
		return -EIO;
	sq_bind_range(st, to_ns, to, to_len, to_end, to_len);
	rc = sq_errno(c->db, sqlite3_step(st), "rename");
	sqlite3_reset(st);
	if (rc)
		return rc;

	/*
	 * Statements of this connection are reused below, so the rows to
	 * move are read with a separate statement kept for this loop.
	 */
	rc = sqlite3_prepare_v2(c->db, sq_stmt_sql[SQ_RANGE_ROWS], -1, &rows,
				NULL);
	if (rc != SQLITE_OK)
		return sq_errno(c->db, rc, "rename");
	sq_bind_range(rows, from_ns, from, from_len, from_end, from_len);
	/*
	 * SQLite may visit an updated row again if its new key sorts
	 * later in the same range; the ranges are disjoint, so it cannot.
	 */
	while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
		const char *k = sqlite3_column_blob(rows, 1);
		size_t n = (size_t)sqlite3_column_bytes(rows, 1);

		if (to_len + n - from_len > STORE_KEY_MAX) {
			rc = -ENAMETOOLONG; /* a key under it would be too long
					     */
			break;
		}
		memcpy(key, to, to_len);
		memcpy(key + to_len, k + from_len, n - from_len);
		rc = sq_rename_row(c, sqlite3_column_int64(rows, 0), to_ns, key,
				   to_len + n - from_len);
		if (rc)
			break;
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = sq_errno(c->db, rc, "rename");
	sqlite3_finalize(rows);
	return rc;
}

static int sq_rename(struct store *base, int64_t from_ns, const char *from,
		     size_t from_len, int64_t to_ns, const char *to,
		     size_t to_len, enum store_kind kind, bool noreplace)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	rc = sq_begin(c, true);
	if (rc)
		goto release;
	if (to_ns != from_ns)
		rc = sq_ns_live(c, to_ns);
	if (rc == 0 && kind == STORE_DIR)
		rc = sq_rename_dir(c, from_ns, from, from_len, to_ns, to,
				   to_len, noreplace);
	else if (rc == 0)
		rc = sq_rename_key(c, from_ns, from, from_len, to_ns, to,
				   to_len, noreplace);
	rc = sq_end(c, rc);
release:
	sq_release(s, c);
	return rc;
}

/* Usage of namespace ns, or of all of them when ns is 0. */
static int sq_usage_of(struct store *base, int64_t ns, struct store_usage *u)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	st = sq_stmt(c, ns ? SQ_NS_USAGE : SQ_USAGE);
	if (!st) {
		rc = -EIO;
		goto release;
	}
	if (ns)
		sqlite3_bind_int64(st, 1, ns);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		u->bytes = (uint64_t)sqlite3_column_double(st, 0);
		u->keys = (uint64_t)sqlite3_column_double(st, 1);
		rc = 0;
	} else {
		rc = sq_errno(c->db, rc, "usage");
	}
	sqlite3_reset(st);
release:
	sq_release(s, c);
	return rc;
}

static int sq_usage(struct store *base, struct store_usage *u)
{
	return sq_usage_of(base, 0, u);
}

static int sq_ns_usage(struct store *base, int64_t ns, struct store_usage *u)
{
	return sq_usage_of(base, ns, u);
}

/* The id of a live row, or -ENOENT. */
static int sq_row_id(struct sq_conn *c, int64_t ns, const char *key,
		     size_t key_len, enum store_kind kind, int64_t *rowid)
{
	sqlite3_stmt *st = sq_stmt(c, SQ_ROW_ID);
	int rc;

	if (!st)
		return -EIO;
	sq_bind_key(st, ns, key, key_len);
	sqlite3_bind_int(st, 3, kind);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*rowid = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : sq_errno(c->db, rc, "row");
	}
	sqlite3_reset(st);
	return rc;
}

/* Copy a column's bytes into buf as getxattr(2) would. */
static int sq_copy_out(sqlite3_stmt *st, int col, void *buf, size_t size,
		       size_t *len)
{
	const void *p = sqlite3_column_blob(st, col);

	*len = (size_t)sqlite3_column_bytes(st, col);
	if (size == 0)
		return 0;
	if (size < *len)
		return -ERANGE;
	if (*len)
		memcpy(buf, p, *len);
	return 0;
}

static int sq_meta_get(struct store *base, int64_t ns, const char *key,
		       size_t key_len, void *buf, size_t size, size_t *len)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	st = sq_stmt(c, SQ_META_GET);
	if (!st) {
		rc = -EIO;
		goto release;
	}
	sq_bind_key(st, ns, key, key_len);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = sqlite3_column_type(st, 0) == SQLITE_NULL
			 ? -ENODATA
			 : sq_copy_out(st, 0, buf, size, len);
	else
		rc = rc == SQLITE_DONE ? -ENOENT : sq_errno(c->db, rc, "meta");
	sqlite3_reset(st);
release:
	sq_release(s, c);
	return rc;
}

/*
 * Whether json[0..len) may go to SQLite as JSON text: no NUL (json()
 * would stop there) and valid UTF-8, which RFC 8259 requires and json()
 * does not check (metadata with a stray byte would be stored, then
 * dropped by the CLI's list and export, whose JSON library refuses it).
 */
static bool sq_json_text_ok(const char *json, size_t len)
{
	return !memchr(json, '\0', len) && name_utf8_valid(json, len);
}

/*
 * The compact form of json into *out (malloc'ed), as SQLite's json()
 * writes it: -EINVAL if it is not JSON.
 *
 * FIXME: json() keeps string escapes and number spellings as written
 * ("\u0041", 1.0) where JSON.stringify writes "A" and 1, so the length
 * checked against STORE_META_MAX can differ from Workers KV's for such
 * input.
 */
static int sq_json_compact(struct sq_conn *c, const char *json, size_t len,
			   char **out, size_t *out_len)
{
	sqlite3_stmt *st = sq_stmt(c, SQ_JSON);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, json, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
		*out_len = (size_t)sqlite3_column_bytes(st, 0);
		*out = malloc(*out_len + 1);
		if (*out)
			memcpy(*out, sqlite3_column_text(st, 0), *out_len + 1);
		rc = *out ? 0 : -ENOMEM;
	} else {
		rc = -EINVAL; /* malformed JSON, or too deep */
	}
	sqlite3_reset(st);
	return rc;
}

static int sq_meta_set(struct store *base, int64_t ns, const char *key,
		       size_t key_len, const char *json, size_t json_len)
{
	struct sq_store *s = (struct sq_store *)base;
	char *compact = NULL;
	size_t compact_len = 0;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int rc;

	if (json && !sq_json_text_ok(json, json_len))
		return -EINVAL;
	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	if (json) {
		rc = sq_json_compact(c, json, json_len, &compact, &compact_len);
		if (rc == 0 && compact_len > STORE_META_MAX)
			rc = -ERANGE;
		if (rc)
			goto release;
	}
	st = sq_stmt(c, SQ_META_SET);
	if (!st) {
		rc = -EIO;
		goto release;
	}
	sq_bind_key(st, ns, key, key_len);
	if (compact)
		sqlite3_bind_text(st, 4, compact, (int)compact_len,
				  SQLITE_STATIC);
	rc = sq_errno(c->db, sqlite3_step(st), "set metadata");
	sqlite3_reset(st);
	if (rc == 0 && sqlite3_changes(c->db) == 0)
		rc = -ENOENT;
release:
	free(compact);
	sq_release(s, c);
	return rc;
}

static int sq_json_compact_op(struct store *base, const char *json, size_t len,
			      char **out, size_t *out_len)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	int rc;

	if (!sq_json_text_ok(json, len))
		return -EINVAL;
	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	rc = sq_json_compact(c, json, len, out, out_len);
	sq_release(s, c);
	return rc;
}

static int sq_expire(struct store *base, int64_t ns, const char *key,
		     size_t key_len, int64_t expiration)
{
	return sq_change_row((struct sq_store *)base, SQ_EXPIRE, ns, key,
			     key_len, STORE_KEY, expiration, NULL);
}

static int sq_xattr_get(struct store *base, int64_t ns, const char *key,
			size_t key_len, enum store_kind kind, const char *name,
			void *buf, size_t size, size_t *len)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int64_t rowid;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	rc = sq_begin(c, false);
	if (rc)
		goto release;
	rc = sq_row_id(c, ns, key, key_len, kind, &rowid);
	st = rc ? NULL : sq_stmt(c, SQ_XATTR_GET);
	if (st) {
		sqlite3_bind_int64(st, 4, rowid);
		sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			rc = sq_copy_out(st, 0, buf, size, len);
		else
			rc = rc == SQLITE_DONE ? -ENODATA
					       : sq_errno(c->db, rc, "xattr");
		sqlite3_reset(st);
	} else if (rc == 0) {
		rc = -EIO;
	}
	sq_end(c, 0);
release:
	sq_release(s, c);
	return rc;
}

/* Run an xattr statement on row with name (and value) bound. */
static int sq_xattr_step(struct sq_conn *c, enum sq_stmt_id id, int64_t rowid,
			 const char *name, const void *value, size_t size,
			 double *total)
{
	sqlite3_stmt *st = sq_stmt(c, id);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 4, rowid);
	sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
	if (value)
		sqlite3_bind_blob(st, 6, size ? value : "", (int)size,
				  SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && total)
		*total = sqlite3_column_double(st, 0);
	rc = sq_errno(c->db, rc, "xattr");
	sqlite3_reset(st);
	return rc;
}

static int sq_xattr_set(struct store *base, int64_t ns, const char *key,
			size_t key_len, enum store_kind kind, const char *name,
			const void *value, size_t size, int flags)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	double total = 0;
	int64_t rowid;
	size_t len;
	int rc, found;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	rc = sq_begin(c, true);
	if (rc)
		goto release;
	rc = sq_row_id(c, ns, key, key_len, kind, &rowid);
	if (rc == 0 && (flags & (STORE_XATTR_CREATE | STORE_XATTR_REPLACE))) {
		sqlite3_stmt *st = sq_stmt(c, SQ_XATTR_GET);

		sqlite3_bind_int64(st, 4, rowid);
		sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
		if (found && (flags & STORE_XATTR_CREATE))
			rc = -EEXIST;
		if (!found && (flags & STORE_XATTR_REPLACE))
			rc = -ENODATA;
	}
	if (rc == 0)
		rc = sq_xattr_step(c, SQ_XATTR_TOTAL, rowid, name, NULL, 0,
				   &total);
	len = strlen(name);
	if (rc == 0 && total + (double)(len + size) > STORE_XATTR_MAX)
		rc = -ENOSPC;
	if (rc == 0)
		rc = sq_xattr_step(c, SQ_XATTR_SET, rowid, name, value, size,
				   NULL);
	rc = sq_end(c, rc);
release:
	sq_release(s, c);
	return rc;
}

static int sq_xattr_list(struct store *base, int64_t ns, const char *key,
			 size_t key_len, enum store_kind kind, store_ns_fn fn,
			 void *ctx)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int64_t rowid;
	int rc, step;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	rc = sq_begin(c, false);
	if (rc)
		goto release;
	rc = sq_row_id(c, ns, key, key_len, kind, &rowid);
	st = rc ? NULL : sq_stmt(c, SQ_XATTR_LIST);
	if (st) {
		sqlite3_bind_int64(st, 4, rowid);
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			rc = fn(ctx, 0,
				(const char *)sqlite3_column_text(st, 0));
			if (rc)
				break;
		}
		if (rc == 0)
			rc = sq_errno(c->db, step, "list xattrs");
		else if (rc > 0)
			rc = 0;
		sqlite3_reset(st);
	} else if (rc == 0) {
		rc = -EIO;
	}
	sq_end(c, 0);
release:
	sq_release(s, c);
	return rc;
}

static int sq_xattr_remove(struct store *base, int64_t ns, const char *key,
			   size_t key_len, enum store_kind kind,
			   const char *name)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	int64_t rowid;
	int rc;

	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	rc = sq_begin(c, true);
	if (rc)
		goto release;
	rc = sq_row_id(c, ns, key, key_len, kind, &rowid);
	if (rc == 0)
		rc = sq_xattr_step(c, SQ_XATTR_REMOVE, rowid, name, NULL, 0,
				   NULL);
	if (rc == 0 && sqlite3_changes(c->db) == 0)
		rc = -ENODATA;
	rc = sq_end(c, rc);
release:
	sq_release(s, c);
	return rc;
}

static int sq_sweep(struct store *base, int limit, int *removed)
{
	struct sq_store *s = (struct sq_store *)base;
	struct sq_conn *c;
	sqlite3_stmt *st;
	int rc;

	*removed = 0;
	rc = sq_acquire(s, &c);
	if (rc)
		return rc;
	st = sq_stmt(c, SQ_SWEEP);
	if (!st) {
		rc = -EIO;
		goto release;
	}
	sqlite3_bind_int(st, 4, limit);
	rc = sq_errno(c->db, sqlite3_step(st), "sweep");
	sqlite3_reset(st);
	if (rc == 0)
		*removed = sqlite3_changes(c->db);
release:
	sq_release(s, c);
	return rc;
}

/* A SQLite namespace has every capability. */
static int sq_caps(struct store *st, int64_t ns)
{
	return STORE_CAP_ALL;
}

static const struct store_ops sq_ops = {
    .close = sq_close,
    .ns_list = sq_ns_list,
    .ns_find = sq_ns_find,
    .ns_create = sq_ns_create,
    .ns_remove = sq_ns_remove,
    .stat = sq_stat,
    .get = sq_get,
    .peek = sq_peek,
    .put = sq_put,
    .mkdir = sq_mkdir,
    .remove = sq_remove,
    .setattr = sq_setattr,
    .list = sq_list,
    .any = sq_any,
    .lookup = sq_lookup,
    .rename = sq_rename,
    .usage = sq_usage,
    .ns_usage = sq_ns_usage,
    .meta_get = sq_meta_get,
    .meta_set = sq_meta_set,
    .expire = sq_expire,
    .xattr_get = sq_xattr_get,
    .xattr_set = sq_xattr_set,
    .xattr_list = sq_xattr_list,
    .xattr_remove = sq_xattr_remove,
    .sweep = sq_sweep,
    .caps = sq_caps,
    .put_many = sq_put_many,
    .json_compact = sq_json_compact_op,
    .open_value = sq_open_value,
};

static int sq_pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * Check that db is a kvfs database, or an empty one that can become
 * one, without writing anything to it first.
 */
static int sq_check_or_create(sqlite3 *db, const char *path, char *err,
			      size_t err_size)
{
	int64_t app_id = 0, version = 0, tables = 0;
	int rc;

	rc = sq_pragma_int(db, "PRAGMA application_id", &app_id);
	if (rc == SQLITE_OK)
		rc = sq_pragma_int(db, "PRAGMA user_version", &version);
	if (rc == SQLITE_OK)
		rc = sq_pragma_int(db, "SELECT count(*) FROM sqlite_schema",
				   &tables);
	if (rc != SQLITE_OK) {
		snprintf(err, err_size, "%s: not a kvfs database (%s)", path,
			 sqlite3_errmsg(db));
		return rc == SQLITE_BUSY ? -EBUSY : -EINVAL;
	}
	if (app_id == SQ_APP_ID && version == SQ_SCHEMA)
		return 0;
	if (app_id == SQ_APP_ID && version == 1) {
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sq_pragma_int(db, "PRAGMA user_version", &version);
		if (rc == SQLITE_OK && version == 1)
			rc = sqlite3_exec(db, sq_migrate_1_sql, NULL, NULL,
					  NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		else
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		snprintf(err, err_size, "%s: cannot upgrade schema 1: %s", path,
			 sqlite3_errmsg(db));
		return sq_errno(db, rc, "upgrade") ?: -EIO;
	}
	if (app_id == SQ_APP_ID) {
		snprintf(err, err_size,
			 "%s: kvfs database of schema %lld, this kvfs knows %d",
			 path, (long long)version, SQ_SCHEMA);
		return -EINVAL;
	}
	if (app_id != 0 || tables != 0) {
		snprintf(err, err_size,
			 "%s: not a kvfs database (an SQLite database of "
			 "another application)",
			 path);
		return -EINVAL;
	}
	rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		/* Another kvfs may have created it while we waited. */
		rc = sq_pragma_int(db, "PRAGMA application_id", &app_id);
		if (rc == SQLITE_OK && app_id != SQ_APP_ID)
			rc = sqlite3_exec(db, sq_schema_sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		else
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		snprintf(err, err_size, "%s: cannot create database: %s", path,
			 sqlite3_errmsg(db));
		return sq_errno(db, rc, "create") ?: -EIO;
	}
	return 0;
}

/*
 * Remove value files that no row and no vgc entry names and that are
 * older than SQ_ORPHAN_SEC: left by a crash between a put's link and
 * its commit.  (A younger one may be another process's put in flight.)
 * Its age is its mtime, which the link sets (sq_vfile_link).
 */
static void sq_orphans(struct sq_store *s, struct sq_conn *c)
{
	sqlite3_stmt *st = NULL;
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd = dup(s->vdir_fd);
	time_t now = time(NULL);

	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (sqlite3_prepare_v2(c->db,
			       "SELECT 1 FROM kv WHERE vfile = ?1 UNION ALL"
			       " SELECT 1 FROM vgc WHERE name = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		closedir(d);
		return;
	}
	while ((de = readdir(d))) {
		if (strlen(de->d_name) != SQ_VFILE_NAME - 1 ||
		    fstatat(s->vdir_fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(sb.st_mode) || now - sb.st_mtime < SQ_ORPHAN_SEC)
			continue;
		sqlite3_bind_text(st, 1, de->d_name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE) {
			log_info("store: removing unused value file %s/%s",
				 s->vdir, de->d_name);
			unlinkat(s->vdir_fd, de->d_name, 0);
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	closedir(d);
}

/*
 * Move the value files of old (the folder kvfs named from a symbolic
 * link to the database, before it used the real path) to vdir: the
 * whole folder when vdir is missing, else file by file.  What cannot
 * be moved (another file system) stays, with a warning: reading those
 * values fails with EIO until they are moved by hand.
 *
 * Known gap: only the folder of the path kvfs was given is looked for.
 * A folder an older kvfs named from another link (one link of a chain,
 * or a link the database is no longer opened through) is not found.
 */
static void sq_vdir_move(struct sq_store *s, const char *old)
{
	int moved = 0, left = 0, from, to;
	struct stat o, n;
	struct dirent *de;
	DIR *d;

	if (lstat(old, &o) || !S_ISDIR(o.st_mode))
		return;
	if (stat(s->vdir, &n)) {
		if (rename(old, s->vdir))
			log_warn("store: cannot move %s to %s: %s", old,
				 s->vdir, strerror(errno));
		return;
	}
	if (n.st_dev == o.st_dev && n.st_ino == o.st_ino)
		return; /* one folder, reached through a linked directory */
	to = open(s->vdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	from = open(old, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = from < 0 ? NULL : fdopendir(from);
	while (to >= 0 && d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (renameat(from, de->d_name, to, de->d_name) == 0)
			moved++;
		else
			left++;
	}
	if (d)
		closedir(d);
	else if (from >= 0)
		close(from);
	if (to >= 0)
		close(to);
	if (left || !d || to < 0)
		log_warn("store: value files stay in %s: cannot move them to "
			 "%s",
			 old, s->vdir);
	else
		rmdir(old);
	if (moved)
		log_info("store: moved %d value files from %s to %s", moved,
			 old, s->vdir);
}

/*
 * Open (making it if missing) the folder of value files, named from
 * the database's real path, so that every path to one database finds
 * the same folder.  Without it kvfs still works: every value is then
 * kept in the database.
 */
static void sq_vdir_open(struct sq_store *s, struct sq_conn *c)
{
	char *real = realpath(s->path, NULL);
	const char *base = real ? real : s->path;
	size_t len = strlen(base);
	char old[PATH_MAX + sizeof("-values")];

	s->vdir = malloc(len + sizeof("-values"));
	if (s->vdir) {
		memcpy(s->vdir, base, len);
		memcpy(s->vdir + len, "-values", sizeof("-values"));
	}
	if (s->vdir && real && strcmp(real, s->path) &&
	    (size_t)snprintf(old, sizeof(old), "%s-values", s->path) <
		sizeof(old))
		sq_vdir_move(s, old);
	free(real);
	if (!s->vdir)
		return;
	if (mkdir(s->vdir, 0700) && errno != EEXIST)
		log_warn("store: cannot make %s (%s): large values stay in "
			 "the database",
			 s->vdir, strerror(errno));
	s->vdir_fd = open(s->vdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->vdir_fd < 0)
		return;
	if (access(s->vdir, W_OK) == 0)
		s->base.spill_dir = s->vdir;
	sq_orphans(s, c);
	sq_gc(s, c);
}

int store_sqlite_open(const char *path, int busy_timeout_ms, bool is_sync_full,
		      struct store **out, char *err, size_t err_size)
{
	struct sq_store *s;
	struct sq_conn *c;
	sqlite3 *db;
	int rc;

	rc = sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, err_size, "%s: cannot open database: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close_v2(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db, busy_timeout_ms);
	if (sqlite3_db_readonly(db, "main") == 1) {
		/* SQLite fell back to reading only; kvfs must write. */
		snprintf(err, err_size,
			 "%s: cannot open database: no permission to write it "
			 "(read-only file or file system)",
			 path);
		sqlite3_close_v2(db);
		return -EROFS;
	}
	rc = sq_check_or_create(db, path, err, err_size);
	if (rc == 0 && sqlite3_exec(db, SQ_ADDED_SQL, NULL, NULL, NULL)) {
		snprintf(err, err_size, "%s: cannot add to the schema: %s",
			 path, sqlite3_errmsg(db));
		rc = sq_errno(db, sqlite3_errcode(db), "index") ?: -EIO;
	}
	if (rc == 0 &&
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)) {
		snprintf(err, err_size, "%s: cannot use WAL mode: %s", path,
			 sqlite3_errmsg(db));
		rc = -EIO;
	}
	sqlite3_close_v2(db);
	if (rc)
		return rc;

	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	s->base.ops = &sq_ops;
	s->busy_timeout_ms = busy_timeout_ms;
	s->is_sync_full = is_sync_full;
	s->vdir_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	rc = sq_conn_open(s, &c);
	if (rc) {
		snprintf(err, err_size, "%s: cannot open database: %s", path,
			 strerror(-rc));
		sq_close(&s->base);
		return rc;
	}
	sq_vdir_open(s, c);
	sq_release(s, c);
	*out = &s->base;
	return 0;
}

bool store_children_range(const char *key, size_t len, char *lo, char *hi)
{
	if (len + 1 > STORE_KEY_MAX)
		return false;
	memcpy(lo, key, len);
	lo[len] = '/';
	store_prefix_end(lo, len + 1, hi);
	return true;
}

void store_prefix_end(const char *prefix, size_t len, char *out)
{
	memcpy(out, prefix, len);
	if (len > 0)
		out[len - 1] = (char)((unsigned char)out[len - 1] + 1);
}
