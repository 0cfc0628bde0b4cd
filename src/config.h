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
 *   backend = cloudflare      ; sqlite (default) | cloudflare
 *   account_id = HEX          ; cloudflare only, required
 *   api_token_file = PATH     ; or api_token_env = VAR, exactly one
 *   api_base = URL            ; default CONFIG_API_BASE
 *   cache_ttl = 60            ; seconds, at least 30
 *   cache_max_mb = 64         ; bound of the local cache
 *   cache_path = PATH         ; default STORE-cache-ID.db
 *   stale_if_error = false    ; serve expired cache when the API fails
 *   retry_max_sec = 30        ; time budget of retries per request
 */
#ifndef KVFS_CONFIG_H
#define KVFS_CONFIG_H

#include <stdbool.h>
#include <sys/types.h>

enum config_layout { CONFIG_LAYOUT_TREE, CONFIG_LAYOUT_FLAT };
enum config_backend { CONFIG_BACKEND_SQLITE, CONFIG_BACKEND_CLOUDFLARE };

#define CONFIG_API_BASE "https://api.cloudflare.com/client/v4"

/* The settings of a backend = cloudflare namespace. */
struct config_remote {
	char *account_id;
	char *api_token;  /* read from the file or variable at load; secret:
			     never logged, never shown in a message */
	char *api_base;	  /* without a trailing '/' */
	char *cache_path; /* absolute path of the edge cache database */
	int cache_ttl_sec;
	int cache_max_mb;
	int retry_max_sec; /* total time spent retrying one request */
	bool is_stale_if_error;
};

struct config_ns {
	char *name; /* directory name, never NULL */
	char *id;   /* namespace id as in wrangler.json, or NULL */
	enum config_layout layout;
	bool is_read_only; /* read_only = true: changes fail with EROFS */
	int line;	   /* line of the section header, for messages */
	enum config_backend backend;
	struct config_remote remote; /* backend = cloudflare only */
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
