/*
 * main: the command line, start-up in one order and teardown in the
 * reverse.  Start-up failures print one line and exit non-zero: 2 for
 * usage and configuration, 1 for everything else.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "store.h"

#define KVFS_VERSION	 "0.1.0"
#define FUSE_SUPER_MAGIC 0x65735546

struct args {
	const char *config;
	const char *mountpoint;
	char opts[4096]; /* -o options for libfuse, comma-separated */
	bool is_foreground;
	bool is_debug;
	bool is_opts_given;   /* any -o */
	int command;	      /* argv index of a subcommand, 0 if mounting */
	long uid, gid, umask; /* -o uid=, gid=, umask=; -1 if not given */
	bool is_allow_other;  /* -o allow_other */
	int log_level;	      /* -o log_level=, a syslog level; -1 if not */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kvfs [-f] [-d] [-o OPTIONS] [-c CONFIG | CONFIG] "
		"MOUNTPOINT\n"
		"  -f          stay in the foreground, log to stderr\n"
		"  -d          debug log (implies -f)\n"
		"  -o OPTIONS  mount options (allow_other, ro, ...)\n"
		"  -c CONFIG   the configuration file (default: one namespace "
		"'default'\n"
		"              in $XDG_DATA_HOME/kvfs/kvfs.db)\n"
		"       kvfs [-c CONFIG] get|put|delete|namespaces|list|import|"
		"export ...\n"
		"       kvfs status MOUNTPOINT\n"
		"              the store without mounting; a command alone "
		"prints its usage\n");
}

/*
 * True for options that belong to mount(8), fstab or systemd and mean
 * nothing to kvfs or libfuse, which would refuse them.
 */
static bool is_foreign_opt(const char *o, size_t len)
{
	static const char *const names[] = {"_netdev",	"nofail", "auto",
					    "noauto",	"user",	  "users",
					    "defaults", "rw",	  "nouser"};
	size_t i;

	if (len >= 10 && !strncmp(o, "x-systemd.", 10))
		return true;
	if (len >= 5 && !strncmp(o, "comment=", 8 < len ? 8 : len))
		return true;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !strncmp(o, names[i], len))
			return true;
	return false;
}

/* -o log_level=error|warning|info|debug.  Returns 1, or -1 if bad. */
static int take_log_level(struct args *a, const char *v, size_t len)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {{"error", LOG_ERR},
		      {"warning", LOG_WARNING},
		      {"info", LOG_INFO},
		      {"debug", LOG_DEBUG}};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strlen(levels[i].name) == len &&
		    !strncmp(v, levels[i].name, len)) {
			a->log_level = levels[i].level;
			return 1;
		}
	}
	fprintf(stderr,
		"kvfs: bad log_level '%.*s': expected error, warning, info "
		"or debug\n",
		(int)len, v);
	return -1;
}

/*
 * kvfs status MOUNTPOINT: print the mount's status file.  Exit 1 if it
 * is not a kvfs mount.
 */
static int show_status(int argc, char **argv)
{
	char *path, buf[4096];
	size_t n;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: kvfs status MOUNTPOINT\n");
		return 2;
	}
	if (asprintf(&path, "%s/%s", argv[1], FS_STATUS_NAME) < 0)
		return 1;
	f = fopen(path, "r");
	free(path);
	if (!f) {
		fprintf(stderr, "kvfs: %s: not a kvfs mount (%s)\n", argv[1],
			strerror(errno));
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return 0;
}

/*
 * Take out the options kvfs applies itself (libfuse's low-level API has
 * no uid=, gid= or umask=).  Returns 1 if o was one, 0 if not, -1 if its
 * value is bad.
 */
static int take_own_opt(struct args *a, const char *o, size_t len)
{
	static const char *const names[] = {"uid=", "gid=", "umask="};
	long *fields[] = {&a->uid, &a->gid, &a->umask};
	char value[32], *end;
	size_t i, n;

	if (len == 11 && !strncmp(o, "allow_other", 11))
		a->is_allow_other = true;
	if (len > 10 && !strncmp(o, "log_level=", 10))
		return take_log_level(a, o + 10, len - 10);
	for (i = 0; i < 3; i++) {
		n = strlen(names[i]);
		if (len <= n || strncmp(o, names[i], n))
			continue;
		if (len - n >= sizeof(value))
			return -1;
		memcpy(value, o + n, len - n);
		value[len - n] = '\0';
		errno = 0;
		*fields[i] = strtol(value, &end, i == 2 ? 8 : 10);
		if (i < 2 && (end == value || *end)) {
			/* a name, as in the config file */
			struct passwd *pw = i == 0 ? getpwnam(value) : NULL;
			struct group *gr = i == 1 ? getgrnam(value) : NULL;

			if (pw || gr) {
				*fields[i] =
				    pw ? (long)pw->pw_uid : (long)gr->gr_gid;
				return 1;
			}
		}
		if (errno || *end || end == value || *fields[i] < 0 ||
		    (i == 2 && *fields[i] > 0777) ||
		    (i < 2 && *fields[i] > 4294967294L)) {
			fprintf(stderr,
				"kvfs: bad mount option '%.*s': expected %s\n",
				(int)len, o,
				i == 2	 ? "an octal mode from 0 to 0777"
				: i == 0 ? "a user name or id"
					 : "a group name or id");
			return -1;
		}
		return 1;
	}
	return 0;
}

/* Append the options of one -o argument that libfuse should see. */
static int add_opts(struct args *a, const char *list)
{
	const char *o = list, *comma;
	size_t len, used;
	int own;

	while (*o) {
		comma = strchr(o, ',');
		len = comma ? (size_t)(comma - o) : strlen(o);
		used = strlen(a->opts);
		own = len ? take_own_opt(a, o, len) : 0;
		if (own < 0)
			return -1;
		if (len && !own && !is_foreign_opt(o, len)) {
			if (used + len + 2 > sizeof(a->opts))
				return -1;
			if (used)
				a->opts[used++] = ',';
			memcpy(a->opts + used, o, len);
			a->opts[used + len] = '\0';
		}
		o += len + (comma ? 1 : 0);
	}
	return 0;
}

static bool is_regular_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Returns 0, or the exit status to stop with (-1: exit 0). */
static int parse_args(int argc, char **argv, struct args *a)
{
	const char *pos[2];
	int i, npos = 0;

	for (i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			usage(stdout);
			return -1;
		} else if (!strcmp(s, "-V") || !strcmp(s, "--version")) {
			printf("kvfs %s\n", KVFS_VERSION);
			return -1;
		} else if (!strcmp(s, "-f")) {
			a->is_foreground = true;
		} else if (!strcmp(s, "-d")) {
			a->is_debug = a->is_foreground = true;
		} else if (!strcmp(s, "-o") || !strncmp(s, "-o", 2)) {
			const char *list = s[2] ? s + 2 : argv[++i];

			if (!list) {
				fprintf(stderr, "kvfs: -o needs options\n");
				return 2;
			}
			if (add_opts(a, list))
				return 2;
			a->is_opts_given = true;
		} else if (!strcmp(s, "-c")) {
			if (++i >= argc) {
				fprintf(stderr, "kvfs: -c needs a file\n");
				return 2;
			}
			if (a->config) {
				fprintf(stderr, "kvfs: -c given twice\n");
				return 2;
			}
			a->config = argv[i];
		} else if (npos == 0 &&
			   (cli_is_command(s) || !strcmp(s, "status"))) {
			a->command = i;
			if (a->is_opts_given) {
				fprintf(stderr,
					"kvfs: %s: -o is for mounting; "
					"commands take no mount options\n",
					s);
				return 2;
			}
			return 0;
		} else if (s[0] == '-' && s[1]) {
			fprintf(stderr, "kvfs: unknown option '%s'\n", s);
			usage(stderr);
			return 2;
		} else if (npos < 2) {
			pos[npos++] = s;
		} else {
			fprintf(stderr, "kvfs: too many arguments\n");
			usage(stderr);
			return 2;
		}
	}
	if (npos == 2 && a->config) {
		fprintf(stderr,
			"kvfs: '%s' is not a command (with -c, the one "
			"argument is the mountpoint)\n",
			pos[0]);
		usage(stderr);
		return 2;
	}
	if (npos == 0) {
		usage(stderr);
		return 2;
	}
	if (npos == 1 && !a->config && is_regular_file(pos[0])) {
		fprintf(stderr,
			"kvfs: %s is a file: the mountpoint is missing\n",
			pos[0]);
		usage(stderr);
		return 2;
	}
	if (npos == 2 && access(pos[0], F_OK) != 0) {
		fprintf(stderr,
			"kvfs: '%s' is neither a command nor a config file\n",
			pos[0]);
		usage(stderr);
		return 2;
	}
	if (npos == 2)
		a->config = pos[0];
	a->mountpoint = pos[npos - 1];
	return 0;
}

/* True if /etc/fuse.conf lets users mount with allow_other. */
static bool fuse_conf_allows_other(void)
{
	FILE *f = fopen("/etc/fuse.conf", "r");
	char line[256], *p;
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		found = !strncmp(p, "user_allow_other", 16) &&
			(p[16] == '\n' || p[16] == '\0' || p[16] == ' ');
	}
	fclose(f);
	return found;
}

/* Create the folder of the default database, like mkdir -p. */
static int make_parent_dirs(const char *path)
{
	char *p = strdup(path), *s;

	if (!p)
		return -ENOMEM;
	for (s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST) {
			int err = errno;

			free(p);
			return -err;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

/*
 * A kvfs that was killed leaves its mount behind, answering ENOTCONN
 * ("Transport endpoint is not connected").  Detach it so that a new kvfs
 * can mount there.  Returns true if the mountpoint works again.
 */
static bool clear_dead_mount(const char *mountpoint)
{
	struct stat st;
	pid_t pid;
	int status;

	fprintf(stderr, "kvfs: %s: clearing the mount a stopped kvfs left\n",
		mountpoint);
	if (geteuid() == 0 && umount2(mountpoint, MNT_DETACH) == 0)
		return stat(mountpoint, &st) == 0;
	pid = fork();
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "--",
		       mountpoint, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return false;
	return stat(mountpoint, &st) == 0;
}

/*
 * The mountpoint must be a directory with nothing mounted on it.  A
 * mount a killed kvfs left is cleared; statfs() tells it from a live
 * one, since the kernel answers it from the daemon, never from a cache.
 * Returns 0 or the exit status.
 */
/*
 * "/dev/fd/N": an open /dev/fuse that kvfs's parent has mounted already
 * (libfuse takes it as it is), as a container manager or a mount helper
 * does for a user who may not open /dev/fuse.
 */
static bool is_fd_mountpoint(const char *mountpoint)
{
	unsigned int fd;
	char end;

	return sscanf(mountpoint, "/dev/fd/%u%c", &fd, &end) == 1;
}

/* 0 if the /dev/fd/N mountpoint is open on /dev/fuse (10:229), else 1. */
static int check_fd_mountpoint(const char *mountpoint)
{
	unsigned int fd = 0;
	struct stat st;

	sscanf(mountpoint, "/dev/fd/%u", &fd);
	if (fstat((int)fd, &st)) {
		fprintf(stderr, "kvfs: %s: %s\n", mountpoint, strerror(errno));
		return 1;
	}
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 10 ||
	    minor(st.st_rdev) != 229) {
		fprintf(stderr, "kvfs: %s: not a descriptor of /dev/fuse\n",
			mountpoint);
		return 1;
	}
	return 0;
}

static int check_mountpoint(const char *mountpoint)
{
	struct stat st, parent;
	struct statfs sf;
	char *up;
	int rc;

	if (statfs(mountpoint, &sf) && errno == ENOTCONN)
		clear_dead_mount(mountpoint);
	if (stat(mountpoint, &st)) {
		/* kvfs lsit: a mistyped command reads as a mountpoint */
		fprintf(stderr, "kvfs: %s: %s%s\n", mountpoint, strerror(errno),
			errno == ENOENT && !strchr(mountpoint, '/')
			    ? " (nor is it a command)"
			    : "");
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "kvfs: %s: not a directory\n", mountpoint);
		return 1;
	}
	if (asprintf(&up, "%s/..", mountpoint) < 0)
		return 1;
	rc = stat(up, &parent);
	free(up);
	if (rc == 0 && parent.st_dev != st.st_dev &&
	    statfs(mountpoint, &sf) == 0 && sf.f_type == FUSE_SUPER_MAGIC) {
		fprintf(stderr,
			"kvfs: %s: a FUSE file system is mounted there "
			"already\n",
			mountpoint);
		return 1;
	}
	return 0;
}

/* Open and close the store once, so its errors reach the terminal. */
static int check_store(const struct config *cfg)
{
	struct store *st;
	char err[512];
	int rc;

	rc = store_open(cfg, &st, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "kvfs: %s\n", err);
		return 1;
	}
	st->ops->close(st);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = {.uid = -1, .gid = -1, .umask = -1, .log_level = -1};
	struct config cfg;
	struct fs_mount m;
	char err[1024], *mountpoint;
	int rc;

	/* Values are often sessions and tokens: the database, its journal
	   and temporary files are the user's alone. */
	umask(077);
	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (a.command && !strcmp(argv[a.command], "status"))
		return show_status(argc - a.command, argv + a.command);
	if (a.command)
		return cli_main(a.config, argc - a.command, argv + a.command);
	if (a.log_level >= 0)
		log_max_level = a.log_level;
	if (a.is_debug)
		log_max_level = LOG_DEBUG;
	log_capture_fuse();

	/* On /dev/fd/N the parent mounted already, with its own options. */
	if (a.is_allow_other && geteuid() != 0 &&
	    !is_fd_mountpoint(a.mountpoint) && !fuse_conf_allows_other()) {
		fprintf(stderr, "kvfs: allow_other needs the line "
				"'user_allow_other' in /etc/fuse.conf (or "
				"mounting as root)\n");
		return 2;
	}
	if (a.config)
		rc = config_load(a.config, &cfg, err, sizeof(err));
	else
		rc = config_default(&cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "kvfs: %s\n", err);
		return 2;
	}
	if (a.uid >= 0)
		cfg.uid = (uid_t)a.uid;
	if (a.gid >= 0)
		cfg.gid = (gid_t)a.gid;
	if (a.umask >= 0) {
		cfg.file_mode = 0666 & ~(mode_t)a.umask;
		cfg.dir_mode = 0777 & ~(mode_t)a.umask;
	}
	if (!a.config && (rc = make_parent_dirs(cfg.store_path))) {
		fprintf(stderr, "kvfs: %s: %s\n", cfg.store_path,
			strerror(-rc));
		config_free(&cfg);
		return 1;
	}
	if (check_store(&cfg)) {
		config_free(&cfg);
		return 1;
	}

	/* Detaching changes the working directory: use an absolute path. */
	rc = is_fd_mountpoint(a.mountpoint) ? check_fd_mountpoint(a.mountpoint)
					    : check_mountpoint(a.mountpoint);
	if (rc) {
		config_free(&cfg);
		return rc;
	}
	mountpoint = is_fd_mountpoint(a.mountpoint)
			 ? strdup(a.mountpoint)
			 : realpath(a.mountpoint, NULL);
	if (!mountpoint) {
		fprintf(stderr, "kvfs: %s: %s\n", a.mountpoint,
			strerror(errno));
		config_free(&cfg);
		return 1;
	}
	m = (struct fs_mount){.cfg = &cfg,
			      .mountpoint = mountpoint,
			      .fuse_opts = a.opts,
			      .is_foreground = a.is_foreground,
			      .is_debug = a.is_debug,
			      .is_allow_other = a.is_allow_other,
			      .is_fd = is_fd_mountpoint(a.mountpoint)};
	rc = fs_main(&m);
	free(mountpoint);
	config_free(&cfg);
	return rc;
}
