/*
 * config: the configuration file (inih) parsed into a plain struct,
 * validated once at start-up.  Nothing else in kvfs reads the file.
 *
 * File format (kvfs.ini.example shows every option):
 *
 *   [store]
 *   path = kvfs.db            ; relative to the config file's folder
 *   busy_timeout_ms = 5000
 *   sync = normal             ; normal | full
 *   sweep_sec = 60            ; how often expired keys are removed
 *   [mount]
 *   uid = 1000                ; defaults for keys with no stored owner
 *   gid = 1000
 *   file_mode = 0644          ; octal
 *   dir_mode = 0755
 *   kernel_cache_sec = 1      ; seconds the kernel may cache names/attrs
 *   [namespace CACHE_KV]      ; one section per namespace directory
 *   id = 0f2ac74b498b48028cb68387c421e279
 *   layout = tree             ; tree | flat
 *   read_only = false         ; true: every change fails with EROFS
 */
#ifndef KVFS_CONFIG_H
#define KVFS_CONFIG_H

#include <stdbool.h>
#include <sys/types.h>

enum config_layout { CONFIG_LAYOUT_TREE, CONFIG_LAYOUT_FLAT };

struct config_ns {
	char *name; /* directory name, never NULL */
	char *id;   /* namespace id as in wrangler.json, or NULL */
	enum config_layout layout;
	bool is_read_only; /* read_only = true: changes fail with EROFS */
	int line;	   /* line of the section header, for messages */
};

struct config {
	char *file;	     /* path of the config file, NULL if default */
	char *store_path;    /* absolute path of the SQLite database */
	int busy_timeout_ms; /* SQLITE_BUSY retry budget, default 5000 */
	int sweep_sec;	     /* seconds between sweeps of expired keys */
	bool is_sync_full;   /* sync = full: fsync every commit (survives
				power loss); normal, the default, survives
				a crash of kvfs */
	uid_t uid;	     /* default owner, default: the mounting user */
	gid_t gid;	     /* default group, default: the mounting group */
	mode_t file_mode;    /* default 0644 */
	mode_t dir_mode;     /* default 0755 */
	double kernel_cache_sec; /* default 1, 0 disables kernel caching */
	struct config_ns *ns;	 /* namespaces in file order */
	int ns_count;
};

/*
 * Parse the config file at path into *cfg.  On failure returns -1 and
 * writes one line "FILE:LINE: what is wrong" into err (err_size bytes);
 * *cfg is then empty and needs no config_free().  Unknown sections or
 * keys, bad numbers, a duplicate namespace and a namespace name that
 * cannot be a directory name are errors.  Returns 0 on success.
 */
int config_load(const char *path, struct config *cfg, char *err,
		size_t err_size);

/*
 * The embedded default: one namespace "default" (tree layout) in
 * $XDG_DATA_HOME/kvfs/kvfs.db, else ~/.local/share/kvfs/kvfs.db.  The
 * folder is not created here.  Returns 0, or -1 with a message in err.
 */
int config_default(struct config *cfg, char *err, size_t err_size);

/* Find a namespace by directory name, or NULL. */
const struct config_ns *config_find_ns(const struct config *cfg,
				       const char *name);

void config_free(struct config *cfg);

#endif
