/*
 * fsbench: the timed loops of bench/run.sh, so that a loop's own cost
 * (a shell's fork per file, an interpreter's per-call overhead) does not
 * hide the file system's.  Every subcommand does its work, checks it,
 * and prints what it measured on one line of stdout: seconds as
 * decimal numbers, from CLOCK_MONOTONIC.  Any failure prints a message
 * naming the file and the errno to stderr and exits 1.
 *
 *   fsbench create DIR N SIZE    create+write SIZE bytes+close f000000..
 *   fsbench read DIR N SIZE      open+read+close each; each must give
 *                                exactly SIZE bytes
 *   fsbench unlink DIR N         unlink each
 *   fsbench write1 FILE BYTES CHUNK   one file written in CHUNK writes
 *   fsbench read1 FILE BYTES CHUNK    read back in CHUNK reads
 *   fsbench par DIR P M SIZE     P processes at once, process i creates
 *                                M files in DIR/p<i> (made beforehand,
 *                                untimed), then reads them back; prints
 *                                the seconds from start to the last
 *                                process's exit
 *   fsbench cmd [--first-only] -- PROG ARG...
 *                                runs PROG with stdout into a pipe and
 *                                prints "FIRST TOTAL LINES": seconds to
 *                                the first complete line other than "."
 *                                and ".." (-1 if none), seconds until
 *                                PROG exited and the pipe was drained,
 *                                and the lines it printed.  With
 *                                --first-only PROG is stopped (SIGTERM)
 *                                after that line; TOTAL is then the time
 *                                until it was stopped, LINES the lines
 *                                seen so far.
 *
 * Built by bench/run.sh: cc -O2 -o fsbench bench/fsbench.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fsbench: %s %s: %s\n", what, path ? path : "",
		strerror(errno));
	exit(1);
}

static void dief(const char *msg, const char *path)
{
	fprintf(stderr, "fsbench: %s: %s\n", path, msg);
	exit(1);
}

static long num(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "fsbench: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static void name(char *buf, size_t len, const char *dir, long i)
{
	if ((size_t)snprintf(buf, len, "%s/f%06ld", dir, i) >= len)
		dief("path too long", dir);
}

/* write all of buf, looping on short writes */
static void write_all(int fd, const char *buf, size_t len, const char *path)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("write", path);
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void fill(char *buf, size_t len, long seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)('a' + (i + (size_t)seed) % 26);
}

static void create_files(const char *dir, long n, size_t size)
{
	/* file i holds pattern(i): buf + i % 26, no per-file fill */
	char path[4096], *buf = malloc(size + 26);
	long i;
	int fd;

	if (!buf)
		die("malloc", NULL);
	fill(buf, size + 26, 0);
	for (i = 0; i < n; i++) {
		name(path, sizeof(path), dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0644);
		if (fd < 0)
			die("open(O_CREAT)", path);
		write_all(fd, buf + i % 26, size, path);
		if (close(fd))
			die("close", path);
	}
	free(buf);
}

/* Read each file; it must hold exactly size bytes, the ones written. */
static void read_files(const char *dir, long n, size_t size)
{
	size_t cap = size + 4096, got;
	char path[4096], *buf = malloc(cap), *want = malloc(size + 26);
	ssize_t r;
	long i;
	int fd;

	if (!buf || !want)
		die("malloc", NULL);
	fill(want, size + 26, 0);
	for (i = 0; i < n; i++) {
		name(path, sizeof(path), dir, i);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open", path);
		got = 0;
		do {
			r = read(fd, buf + got, cap - got);
			if (r < 0 && errno != EINTR)
				die("read", path);
			if (r > 0)
				got += (size_t)r;
		} while (r != 0 && got < cap);
		if (close(fd))
			die("close", path);
		if (got != size || memcmp(buf, want + i % 26, size))
			dief("content differs from what was written", path);
	}
	free(buf);
	free(want);
}

static void unlink_files(const char *dir, long n)
{
	char path[4096];
	long i;

	for (i = 0; i < n; i++) {
		name(path, sizeof(path), dir, i);
		if (unlink(path))
			die("unlink", path);
	}
}

static void write1(const char *path, long bytes, long chunk)
{
	char *buf = malloc((size_t)chunk);
	long done = 0, n;
	int fd;

	if (!buf)
		die("malloc", NULL);
	fill(buf, (size_t)chunk, 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("open(O_CREAT)", path);
	while (done < bytes) {
		n = bytes - done < chunk ? bytes - done : chunk;
		write_all(fd, buf, (size_t)n, path);
		done += n;
	}
	if (close(fd))
		die("close", path);
	free(buf);
}

static void read1(const char *path, long bytes, long chunk)
{
	char *buf = malloc((size_t)chunk);
	long done = 0;
	ssize_t r;
	int fd;

	if (!buf)
		die("malloc", NULL);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", path);
	for (;;) {
		r = read(fd, buf, (size_t)chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read", path);
		if (r == 0)
			break;
		done += r;
	}
	if (close(fd))
		die("close", path);
	if (done != bytes)
		dief("read back a different length", path);
	free(buf);
}

static double par(const char *dir, long p, long m, size_t size)
{
	char sub[4096];
	int go[2], status, failed = 0;
	pid_t *pids = calloc((size_t)p, sizeof(*pids));
	double t0, t1;
	long i;
	char c;

	if (!pids || pipe(go))
		die("pipe", NULL);
	for (i = 0; i < p; i++) {
		if ((size_t)snprintf(sub, sizeof(sub), "%s/p%ld", dir, i) >=
		    sizeof(sub))
			dief("path too long", dir);
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork", NULL);
		if (pids[i] == 0) {
			close(go[1]);
			/* wait until the parent starts the clock */
			if (read(go[0], &c, 1) < 0)
				_exit(1);
			create_files(sub, m, size);
			read_files(sub, m, size);
			_exit(0);
		}
	}
	close(go[0]);
	t0 = now();
	close(go[1]); /* every child's read returns 0: go */
	for (i = 0; i < p; i++) {
		if (waitpid(pids[i], &status, 0) < 0)
			die("waitpid", NULL);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	}
	t1 = now();
	free(pids);
	if (failed)
		dief("a process failed", dir);
	return t1 - t0;
}

static int cmd(int argc, char **argv, int first_only)
{
	char buf[65536], cur[3];
	double t0, first = -1, total;
	long lines = 0, cur_len = 0;
	int out[2], status, dots;
	ssize_t n, i;
	pid_t pid;

	if (argc < 1) {
		fprintf(stderr, "fsbench: cmd: no program\n");
		return 2;
	}
	if (pipe(out))
		die("pipe", NULL);
	t0 = now();
	pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		close(out[0]);
		if (dup2(out[1], 1) < 0)
			_exit(126);
		close(out[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	for (;;) {
		n = read(out[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read from", argv[0]);
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (cur_len < 3)
					cur[cur_len] = buf[i];
				cur_len++;
				continue;
			}
			lines++;
			dots = (cur_len == 1 && cur[0] == '.') ||
			       (cur_len == 2 && cur[0] == '.' && cur[1] == '.');
			cur_len = 0;
			if (first < 0 && !dots)
				first = now() - t0;
			if (first_only && first >= 0)
				break;
		}
		if (first_only && first >= 0)
			break;
	}
	if (first_only) {
		kill(pid, SIGTERM);
		close(out[0]);
	}
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid", NULL);
	total = now() - t0;
	if (!first_only) {
		close(out[0]);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "fsbench: %s failed (status %d)\n",
				argv[0], status);
			return 1;
		}
	}
	if (first_only && first < 0) {
		fprintf(stderr, "fsbench: %s printed no entry\n", argv[0]);
		return 1;
	}
	printf("%.6f %.6f %ld\n", first, total, lines);
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: fsbench create|read DIR N SIZE | unlink DIR N |\n"
		"       write1|read1 FILE BYTES CHUNK | par DIR P M SIZE |\n"
		"       cmd [--first-only] -- PROG ARG...\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";
	double t0;

	if (!strcmp(op, "cmd")) {
		int first_only = argc > 2 && !strcmp(argv[2], "--first-only");
		int i = 2 + first_only;

		if (i >= argc || strcmp(argv[i], "--"))
			return usage();
		return cmd(argc - i - 1, argv + i + 1, first_only);
	}
	if (!strcmp(op, "par") && argc == 6) {
		printf("%.6f\n", par(argv[2], num(argv[3], "P"),
				     num(argv[4], "M"),
				     (size_t)num(argv[5], "SIZE")));
		return 0;
	}
	t0 = now();
	if (!strcmp(op, "create") && argc == 5)
		create_files(argv[2], num(argv[3], "N"),
			     (size_t)num(argv[4], "SIZE"));
	else if (!strcmp(op, "read") && argc == 5)
		read_files(argv[2], num(argv[3], "N"),
			   (size_t)num(argv[4], "SIZE"));
	else if (!strcmp(op, "unlink") && argc == 4)
		unlink_files(argv[2], num(argv[3], "N"));
	else if (!strcmp(op, "write1") && argc == 5)
		write1(argv[2], num(argv[3], "BYTES"), num(argv[4], "CHUNK"));
	else if (!strcmp(op, "read1") && argc == 5)
		read1(argv[2], num(argv[3], "BYTES"), num(argv[4], "CHUNK"));
	else
		return usage();
	printf("%.6f\n", now() - t0);
	return 0;
}
