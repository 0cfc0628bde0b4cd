/*
 * test_config: config files written into a fresh temporary folder and
 * read back with config_load(), good ones field by field, bad ones by
 * their exact error line; config_default() under different
 * environments; and kvfs.ini.example, which must always load.  Run from
 * the top of the repository.
 */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#include "check.h"

static char tmp[] = "/tmp/kvfs-test-config-XXXXXX";
static char tmp_real[PATH_MAX]; /* tmp without symbolic links */

/* Write len bytes of text (NULs allowed) to tmp/name; returns its path. */
static const char *write_file(const char *name, const char *text, size_t len)
{
	static char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	fp = fopen(path, "w");
	if (!fp || fwrite(text, 1, len, fp) != len || fclose(fp)) {
		perror(path);
		exit(1);
	}
	return path;
}

#define WRITE(name, text) write_file(name, text, sizeof(text) - 1)

static bool is_empty(const struct config *cfg)
{
	return !cfg->file && !cfg->store_path && !cfg->ns && !cfg->ns_count;
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/*
 * Load text from tmp/bad.ini and check that it fails with exactly
 * "PATH:" followed by want.
 */
static void check_bad(const char *text, size_t len, const char *want)
{
	const char *path = write_file("bad.ini", text, len);
	char err[1024], expected[2048];
	struct config cfg;
	bool ok;
	int rc;

	memset(&cfg, 0x5a, sizeof(cfg));
	err[0] = '\0';
	rc = config_load(path, &cfg, err, sizeof(err));
	snprintf(expected, sizeof(expected), "%s:%s", path, want);
	ok = rc == -1 && !strcmp(err, expected) && is_empty(&cfg);
	CHECK(ok, "rejects:%s%s%s", want, ok ? "" : " -- got: ", ok ? "" : err);
}

#define BAD(text, want) check_bad(text, sizeof(text) - 1, want)

/* Load text from tmp/good.ini into *cfg, which must work. */
static bool load_good(const char *text, size_t len, struct config *cfg)
{
	const char *path = write_file("good.ini", text, len);
	char err[1024] = "";
	int rc = config_load(path, cfg, err, sizeof(err));

	if (rc)
		printf("# %s\n", err);
	return rc == 0 && str_eq(cfg->file, path);
}

#define LOAD(text, cfg) load_good(text, sizeof(text) - 1, cfg)

static bool path_is(const struct config *cfg, const char *rel)
{
	char want[PATH_MAX * 2];

	snprintf(want, sizeof(want), "%s/%s", tmp_real, rel);
	return str_eq(cfg->store_path, want);
}

static void test_every_option(void)
{
	struct config cfg;
	const struct config_ns *ns;

	CHECK(LOAD("; every option\n"
		   "[store]\n"
		   "path = data/kv.db          ; relative\n"
		   "busy_timeout_ms = 250\n"
		   "\n"
		   "[mount]\n"
		   "uid = root\n"
		   "gid = root\n"
		   "file_mode = 0600\n"
		   "dir_mode = 700\n"
		   "kernel_cache_sec = 0.25\n"
		   "\n"
		   "[namespace CACHE_KV]\n"
		   "id = 0f2ac74b498b48028cb68387c421e279\n"
		   "\n"
		   "[namespace \"my ns\"] ; quoted\n"
		   "layout = flat\n"
		   "\n"
		   "[namespace donn\xc3\xa9"
		   "es]\n"
		   "layout = tree\n"
		   "[namespace empty]\n",
		   &cfg),
	      "every option loads");
	CHECK(path_is(&cfg, "data/kv.db"), "relative path: %s", cfg.store_path);
	CHECK(cfg.busy_timeout_ms == 250, "busy_timeout_ms");
	CHECK(cfg.uid == 0 && cfg.gid == 0, "uid and gid by name (root)");
	CHECK(cfg.file_mode == 0600 && cfg.dir_mode == 0700, "modes");
	CHECK(cfg.kernel_cache_sec == 0.25, "kernel_cache_sec 0.25");
	CHECK(cfg.ns_count == 4, "four namespaces");
	if (cfg.ns_count != 4)
		return;

	ns = &cfg.ns[0];
	CHECK(str_eq(ns->name, "CACHE_KV") &&
		  str_eq(ns->id, "0f2ac74b498b48028cb68387c421e279") &&
		  ns->layout == CONFIG_LAYOUT_TREE && ns->line == 13,
	      "namespace CACHE_KV with id, line 13");
	ns = &cfg.ns[1];
	CHECK(str_eq(ns->name, "my ns") && !ns->id &&
		  ns->layout == CONFIG_LAYOUT_FLAT && ns->line == 16,
	      "quoted namespace \"my ns\", flat, line 16");
	ns = &cfg.ns[2];
	CHECK(str_eq(ns->name, "donn\xc3\xa9"
			       "es") &&
		  ns->layout == CONFIG_LAYOUT_TREE && ns->line == 19,
	      "UTF-8 namespace name, line 19");
	ns = &cfg.ns[3];
	CHECK(str_eq(ns->name, "empty") && !ns->id &&
		  ns->layout == CONFIG_LAYOUT_TREE && ns->line == 21,
	      "namespace without keys, line 21");

	CHECK(config_find_ns(&cfg, "my ns") == &cfg.ns[1], "find \"my ns\"");
	CHECK(config_find_ns(&cfg, "CACHE_KV") == &cfg.ns[0], "find CACHE_KV");
	CHECK(!config_find_ns(&cfg, "cache_kv"), "names are case-sensitive");
	CHECK(!config_find_ns(&cfg, "nope"), "find a missing namespace");
	config_free(&cfg);
	CHECK(is_empty(&cfg), "config_free empties the struct");
	config_free(&cfg);
}

static void test_defaults(void)
{
	struct config cfg;

	CHECK(LOAD("[namespace a]\n", &cfg), "one bare namespace loads");
	CHECK(path_is(&cfg, "kvfs.db"), "default path beside the file: %s",
	      cfg.store_path);
	CHECK(cfg.busy_timeout_ms == 5000, "default busy_timeout_ms");
	CHECK(cfg.uid == geteuid() && cfg.gid == getegid(),
	      "default uid and gid: the process's");
	CHECK(cfg.file_mode == 0644 && cfg.dir_mode == 0755, "default modes");
	CHECK(cfg.kernel_cache_sec == 1, "default kernel_cache_sec");
	CHECK(cfg.ns_count == 1 && str_eq(cfg.ns[0].name, "a") &&
		  !cfg.ns[0].id && cfg.ns[0].layout == CONFIG_LAYOUT_TREE &&
		  cfg.ns[0].line == 1,
	      "default namespace fields");
	config_free(&cfg);
}

static void test_values(void)
{
	struct config cfg;

	CHECK(LOAD("[store]\n"
		   "path = \"/srv/kv #1.db\"\n"
		   "busy_timeout_ms = 600000\n"
		   "[mount]\n"
		   "uid = 1234\n"
		   "gid = 4294967294\n"
		   "file_mode = 0\n"
		   "dir_mode = 07777\n"
		   "kernel_cache_sec = 86400\n"
		   "[namespace a]\n"
		   "id = \"  spaced  \"\n",
		   &cfg),
	      "limits, numbers and quoted values load");
	CHECK(str_eq(cfg.store_path, "/srv/kv #1.db"),
	      "quoted absolute path kept as is: %s", cfg.store_path);
	CHECK(cfg.busy_timeout_ms == 600000, "busy_timeout_ms 600000");
	CHECK(cfg.uid == 1234 && cfg.gid == 4294967294u, "numeric uid, gid");
	CHECK(cfg.file_mode == 0 && cfg.dir_mode == 07777, "modes 0, 07777");
	CHECK(cfg.kernel_cache_sec == 86400, "kernel_cache_sec 86400");
	CHECK(cfg.ns_count == 1 && str_eq(cfg.ns[0].id, "  spaced  "),
	      "quotes keep spaces");
	config_free(&cfg);

	CHECK(LOAD("[mount]\nkernel_cache_sec = 0\n[namespace a]\n", &cfg) &&
		  cfg.kernel_cache_sec == 0,
	      "kernel_cache_sec 0");
	config_free(&cfg);
}

/* The inih behaviours kvfs.ini.example documents. */
static void test_syntax(void)
{
	struct config cfg;
	char name[256], text[600];
	size_t len;

	CHECK(LOAD("\xef\xbb\xbf; byte order mark, then CRLF lines\r\n"
		   "# hash comment\r\n"
		   "  ; indented comment\r\n"
		   "[ store ]\r\n"
		   "  path: db/x.db\r\n"
		   "\tbusy_timeout_ms=7 ; inline\r\n"
		   "[mount] # after a header '#' works too\r\n"
		   "    file_mode = 0640\r\n"
		   "    dir_mode = 0750\r\n"
		   "[namespace  spaced out  ]\r\n"
		   "id = a#b;c\r\n"
		   "[namespace \"x]; #y\"]\r\n"
		   "layout = flat",
		   &cfg),
	      "BOM, CRLF, comments, indentation, ':' load");
	CHECK(path_is(&cfg, "db/x.db") && cfg.busy_timeout_ms == 7,
	      "[ store ] with ':' and an inline comment");
	CHECK(cfg.file_mode == 0640 && cfg.dir_mode == 0750,
	      "indented keys are keys, not continuation lines");
	CHECK(cfg.ns_count == 2 && str_eq(cfg.ns[0].name, "spaced out") &&
		  str_eq(cfg.ns[0].id, "a#b;c") && cfg.ns[0].line == 10,
	      "unquoted name trimmed; '#' and ';' inside a value kept");
	CHECK(cfg.ns_count == 2 && str_eq(cfg.ns[1].name, "x]; #y") &&
		  cfg.ns[1].layout == CONFIG_LAYOUT_FLAT,
	      "quoted name holds ']', ';', '#'; last line without newline");
	config_free(&cfg);

	/* 255 bytes: the header line is longer than inih's 200 bytes. */
	memset(name, 'n', 255);
	name[255] = '\0';
	len = (size_t)snprintf(text, sizeof(text),
			       "[namespace %s]\nlayout = flat\n", name);
	CHECK(load_good(text, len, &cfg) && cfg.ns_count == 1 &&
		  str_eq(cfg.ns[0].name, name),
	      "255-byte namespace name");
	config_free(&cfg);

	/* The longest key line inih's buffer takes whole: 198 bytes. */
	memset(name, 'i', 193);
	name[193] = '\0';
	len = (size_t)snprintf(text, sizeof(text), "[namespace a]\nid = %s\n",
			       name);
	CHECK(load_good(text, len, &cfg) && cfg.ns_count == 1 &&
		  str_eq(cfg.ns[0].id, name),
	      "198-byte key line");
	config_free(&cfg);

	/* A comment has no length limit. */
	len = (size_t)snprintf(text, sizeof(text), ";%s%s%s\n[namespace a]\n",
			       name, name, name);
	CHECK(load_good(text, len, &cfg), "long comment line");
	config_free(&cfg);
}

static void test_bad_structure(void)
{
	BAD("[namespace a]\n[mount]\nfile_mode = 0644\n\n; x\n\nbogus = 1\n",
	    "7: unknown key 'bogus' in [mount]");
	BAD("[store]\nuid = 1\n", "2: unknown key 'uid' in [store]");
	BAD("[namespace \"my ns\"]\npath = x\n",
	    "2: unknown key 'path' in [namespace \"my ns\"]");
	BAD("[namespace a]\nID = x\n", "2: unknown key 'ID' in [namespace a]");
	BAD("[namespace \"a;b\"]\nbogus = 1\n",
	    "2: unknown key 'bogus' in [namespace \"a;b\"]");
	BAD("[mount]\nb\tad = 1\n", "2: unknown key 'b\\x09ad' in [mount]");
	BAD("[namespace a]\n= 1\n", "2: unknown key '' in [namespace a]");
	BAD("[foo]\n[bar]\n", "1: unknown section 'foo'");
	BAD("[namespace a]\n[Store]\n", "2: unknown section 'Store'");
	BAD("[namespaces x]\n", "1: unknown section 'namespaces x'");
	BAD("[]\n", "1: unknown section ''");
	BAD("path = x\n[store]\n", "1: key 'path' before any section");
	BAD("[mount]\nuid = 1\ngid = 1\nuid = 2\n",
	    "4: duplicate key 'uid' in [mount] (first on line 2)");
	BAD("[namespace a]\nlayout = flat\n  layout = tree\n",
	    "3: duplicate key 'layout' in [namespace a] (first on line 2)");
	BAD("[namespace a]\nid = x\n[namespace b]\nid = y\n[namespace a]\n",
	    "5: duplicate namespace 'a' (first on line 1)");
	BAD("[namespace a]\n[namespace \"a\"]\n",
	    "2: duplicate namespace 'a' (first on line 1)");
	BAD("[store]\n[namespace a]\n[store]\n",
	    "3: duplicate section [store] (first on line 1)");
	BAD("[mount]\n[mount]\n",
	    "2: duplicate section [mount] (first on line 1)");
}

static void test_bad_values(void)
{
	static const char *const not_ms[] = {
	    "abc", "600001", "-1", "+5", "0x10", "1.5", "", "99999999999"};
	static const char *const not_mode[] = {"0888", "010000", "rwx", "-1",
					       ""};
	static const char *const not_sec[] = {
	    "86401", "86400.5", "-1", "1e3", ".5", "1.", "nan", "0x10", ""};
	char text[200], want[300];
	size_t i;

	for (i = 0; i < sizeof(not_ms) / sizeof(not_ms[0]); i++) {
		snprintf(text, sizeof(text),
			 "[namespace a]\n[store]\nbusy_timeout_ms = %s\n",
			 not_ms[i]);
		snprintf(want, sizeof(want),
			 "3: bad value '%s' for busy_timeout_ms: expected "
			 "milliseconds from 0 to 600000",
			 not_ms[i]);
		check_bad(text, strlen(text), want);
	}
	for (i = 0; i < sizeof(not_mode) / sizeof(not_mode[0]); i++) {
		snprintf(text, sizeof(text), "[mount]\ndir_mode = %s\n",
			 not_mode[i]);
		snprintf(want, sizeof(want),
			 "2: bad value '%s' for dir_mode: expected an octal "
			 "mode from 0 to 07777",
			 not_mode[i]);
		check_bad(text, strlen(text), want);
	}
	for (i = 0; i < sizeof(not_sec) / sizeof(not_sec[0]); i++) {
		snprintf(text, sizeof(text), "[mount]\nkernel_cache_sec = %s\n",
			 not_sec[i]);
		snprintf(want, sizeof(want),
			 "2: bad value '%s' for kernel_cache_sec: expected "
			 "seconds from 0 to 86400",
			 not_sec[i]);
		check_bad(text, strlen(text), want);
	}

	BAD("[mount]\nfile_mode = 9\n",
	    "2: bad value '9' for file_mode: expected an octal mode from 0 "
	    "to 07777");
	BAD("[mount]\nuid = no-such-user-kvfs\n",
	    "2: bad value 'no-such-user-kvfs' for uid: no such user");
	BAD("[mount]\nuid = 4294967295\n",
	    "2: bad value '4294967295' for uid: expected a user name or a "
	    "number from 0 to 4294967294");
	BAD("[mount]\ngid = no-such-group-kvfs\n",
	    "2: bad value 'no-such-group-kvfs' for gid: no such group");
	BAD("[mount]\ngid = 99999999999\n",
	    "2: bad value '99999999999' for gid: expected a group name or a "
	    "number from 0 to 4294967294");
	BAD("[namespace a]\nlayout = Tree\n",
	    "2: bad value 'Tree' for layout: expected 'tree' or 'flat'");
	BAD("[namespace a]\nlayout = flat # comment\n",
	    "2: bad value 'flat # comment' for layout: '#' starts a comment "
	    "only at the start of a line");
	BAD("[namespace a]\n[mount]\nfile_mode = 0640;x\n",
	    "3: bad value '0640;x' for file_mode: expected an octal mode from "
	    "0 to 07777");
	BAD("[namespace a]\nid =\n",
	    "2: bad value '' for id: expected a namespace id");
	BAD("[namespace a]\nid = \"\"\n",
	    "2: bad value '' for id: expected a namespace id");
	BAD("[namespace a]\n[store]\npath = ; nothing\n",
	    "3: bad value '' for path: expected a file name");
	/* inih cuts the value at " ;", even inside quotes. */
	BAD("[namespace a]\n[store]\npath = \"a ;b\"\n",
	    "3: unterminated quote in value '\"a' for path");
}

/*
 * Every key of kvfs.ini.example with a wrong value in turn (wrong type,
 * out of range, empty, given twice), each on line 3 of a file that is
 * otherwise good: the error names that line and the key.
 */
static void test_every_key_wrong(void)
{
	static const struct {
		const char *section, *key, *value;
	} wrong[] = {
	    {"store", "path", ""},
	    {"store", "path", "\"\""},
	    {"store", "busy_timeout_ms", "soon"},
	    {"store", "busy_timeout_ms", "600001"},
	    {"store", "busy_timeout_ms", "-1"},
	    {"store", "busy_timeout_ms", ""},
	    {"store", "sync", "FULL"},
	    {"store", "sync", "off"},
	    {"store", "sync", "1"},
	    {"store", "sync", ""},
	    {"store", "sweep_sec", "0"},
	    {"store", "sweep_sec", "86401"},
	    {"store", "sweep_sec", "1.5"},
	    {"store", "sweep_sec", "-60"},
	    {"store", "sweep_sec", "1m"},
	    {"store", "sweep_sec", ""},
	    {"mount", "uid", "-1"},
	    {"mount", "uid", "4294967295"},
	    {"mount", "uid", "1.0"},
	    {"mount", "uid", ""},
	    {"mount", "gid", "-1"},
	    {"mount", "gid", "18446744073709551616"},
	    {"mount", "gid", ""},
	    {"mount", "file_mode", "0644x"},
	    {"mount", "file_mode", "077777"},
	    {"mount", "file_mode", "-0644"},
	    {"mount", "file_mode", ""},
	    {"mount", "dir_mode", "8"},
	    {"mount", "dir_mode", "u+rwx"},
	    {"mount", "dir_mode", ""},
	    {"mount", "kernel_cache_sec", "86400.1"},
	    {"mount", "kernel_cache_sec", "inf"},
	    {"mount", "kernel_cache_sec", "1s"},
	    {"mount", "kernel_cache_sec", ""},
	    {"namespace a", "id", ""},
	    {"namespace a", "layout", "FLAT"},
	    {"namespace a", "layout", "tree flat"},
	    {"namespace a", "layout", ""},
	    {"namespace a", "read_only", "maybe"},
	    {"namespace a", "read_only", "TRUE"},
	    {"namespace a", "read_only", "2"},
	    {"namespace a", "read_only", ""},
	};
	static const struct {
		const char *section, *key, *value;
	} every[] = {
	    {"store", "path", "x.db"},
	    {"store", "busy_timeout_ms", "1"},
	    {"store", "sync", "full"},
	    {"store", "sweep_sec", "60"},
	    {"mount", "uid", "0"},
	    {"mount", "gid", "0"},
	    {"mount", "file_mode", "0600"},
	    {"mount", "dir_mode", "0700"},
	    {"mount", "kernel_cache_sec", "1"},
	    {"namespace a", "id", "x"},
	    {"namespace a", "layout", "flat"},
	    {"namespace a", "read_only", "true"},
	};
	char text[300], want[300], err[1024];
	const char *path;
	struct config cfg;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		snprintf(text, sizeof(text), "[namespace b]\n[%s]\n%s = %s\n",
			 wrong[i].section, wrong[i].key, wrong[i].value);
		path = write_file("wrong.ini", text, strlen(text));
		snprintf(want, sizeof(want), "%s:3: bad value '", path);
		err[0] = '\0';
		rc = config_load(path, &cfg, err, sizeof(err));
		CHECK(rc == -1 && !strncmp(err, want, strlen(want)) &&
			  strstr(err, wrong[i].key),
		      "[%s] %s = '%s' is refused on line 3 (%s)",
		      wrong[i].section, wrong[i].key, wrong[i].value, err);
		if (rc == 0)
			config_free(&cfg);
	}
	for (i = 0; i < sizeof(every) / sizeof(every[0]); i++) {
		snprintf(text, sizeof(text),
			 "[namespace b]\n[%s]\n%s = %s\n; two\n%s=%s\n",
			 every[i].section, every[i].key, every[i].value,
			 every[i].key, every[i].value);
		path = write_file("twice.ini", text, strlen(text));
		snprintf(want, sizeof(want),
			 "%s:5: duplicate key '%s' in [%s] (first on line 3)",
			 path, every[i].key, every[i].section);
		err[0] = '\0';
		rc = config_load(path, &cfg, err, sizeof(err));
		CHECK(rc == -1 && !strcmp(err, want),
		      "%s given twice is refused on line 5 (%s)", every[i].key,
		      err);
		if (rc == 0)
			config_free(&cfg);
	}
}

static void test_bad_names(void)
{
	char text[1200], want[300];
	size_t len;

	BAD("[namespace \"\"]\n", "1: bad namespace name '': empty");
	BAD("[namespace]\n", "1: missing name: expected [namespace NAME]");
	BAD("[namespace   ]\n", "1: missing name: expected [namespace NAME]");
	BAD("[namespace .]\n",
	    "1: bad namespace name '.': '.' and '..' are not allowed");
	BAD("[namespace \"..\"]\n",
	    "1: bad namespace name '..': '.' and '..' are not allowed");
	BAD("[namespace a/b]\n", "1: bad namespace name 'a/b': contains '/'");
	BAD("[namespace a\xff]\n",
	    "1: bad namespace name 'a\\xff': not valid UTF-8");
	BAD("[namespace \xc0\xaf]\n",
	    "1: bad namespace name '\\xc0\\xaf': not valid UTF-8");
	BAD("[namespace \xed\xa0\x80]\n",
	    "1: bad namespace name '\\xed\\xa0\\x80': not valid UTF-8");
	BAD("[namespace \xf4\x90\x80\x80]\n",
	    "1: bad namespace name '\\xf4\\x90\\x80\\x80': not valid UTF-8");
	BAD("[namespace \xe2\x82]\n",
	    "1: bad namespace name '\\xe2\\x82': not valid UTF-8");
	BAD("[namespace \"abc]\n", "1: unterminated quote in section header");
	BAD("[namespace \"a\"b\"]\n",
	    "1: expected ']' after the quoted namespace name");

	/* 256 bytes; the message shows the first 80 of them. */
	len = (size_t)snprintf(text, sizeof(text), "[namespace %0256d]\n", 0);
	snprintf(want, sizeof(want),
		 "1: bad namespace name '%080d...': longer than 255 bytes", 0);
	check_bad(text, len, want);
}

static void test_bad_syntax(void)
{
	char text[1200];
	size_t len;

	BAD("[store\n", "1: missing ']' in section header");
	BAD("[namespace a\n", "1: missing ']' in section header");
	BAD("[namespace a]\n[store] junk\n", "2: unexpected 'junk' after ']'");
	BAD("[namespace a]b]\n", "1: unexpected 'b]' after ']'");
	BAD("[namespace a]\nlayout flat\n", "2: missing '=' in 'layout flat'");
	BAD("[namespace a]\nlayout ; = flat\n",
	    "2: missing '=' in 'layout ; = flat'");
	BAD("[namespace a]\nid = x\0y\n", "2: line contains a NUL byte");
	BAD("[namespace a]\n; \0\n", "2: line contains a NUL byte");

	/* 199 bytes: inih would read the last byte as the next line. */
	len = (size_t)snprintf(text, sizeof(text),
			       "[namespace a]\nid = %0194d\n", 0);
	check_bad(text, len, "2: line longer than 198 bytes");
	len = (size_t)snprintf(text, sizeof(text), "[namespace %01100d]\n", 0);
	check_bad(text, len, "1: line longer than 1024 bytes");

	BAD("", " no [namespace NAME] section");
	BAD("; nothing\n[store]\npath = x.db\n",
	    " no [namespace NAME] section");
}

/* Errors about the file itself, and the err buffer. */
static void test_bad_file(void)
{
	struct config cfg;
	char path[PATH_MAX], err[512], want[PATH_MAX + 64];
	int rc;

	snprintf(path, sizeof(path), "%s/missing.ini", tmp);
	rc = config_load(path, &cfg, err, sizeof(err));
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	CHECK(rc == -1 && !strcmp(err, want) && is_empty(&cfg),
	      "missing file: %s", err);

	rc = config_load(tmp, &cfg, err, sizeof(err));
	snprintf(want, sizeof(want), "%s: Is a directory", tmp);
	CHECK(rc == -1 && !strcmp(err, want) && is_empty(&cfg),
	      "folder instead of a file: %s", err);

	WRITE("bad.ini", "[foo]\n");
	snprintf(path, sizeof(path), "%s/bad.ini", tmp);
	rc = config_load(path, &cfg, err, 8);
	CHECK(rc == -1 && strlen(err) == 7 && !strncmp(err, path, 7),
	      "message cut to the buffer: '%s'", err);
	CHECK(config_load(path, &cfg, NULL, 0) == -1 && is_empty(&cfg),
	      "no buffer for the message");
}

/*
 * A relative config path: messages and store paths start from it; the
 * path kept (for kvfs status, after the daemon left the folder) is
 * absolute.
 */
static void test_relative(void)
{
	struct config cfg;
	char err[512], want[PATH_MAX * 2];
	int cwd = open(".", O_RDONLY | O_DIRECTORY);

	snprintf(want, sizeof(want), "%s/sub", tmp);
	if (mkdir(want, 0700) < 0 || cwd < 0 || chdir(tmp) < 0) {
		perror("test_relative");
		exit(1);
	}
	WRITE("sub/kvfs.ini", "[store]\npath = ../x.db\n[namespace a]\n");
	WRITE("sub/bad.ini", "[namespace a]\n\nbogus = 1\n");

	snprintf(want, sizeof(want), "%s/sub/kvfs.ini", tmp_real);
	CHECK(config_load("sub/kvfs.ini", &cfg, err, sizeof(err)) == 0 &&
		  str_eq(cfg.file, want),
	      "relative config path loads, and is kept absolute: %s",
	      cfg.file ? cfg.file : "(null)");
	snprintf(want, sizeof(want), "%s/sub/../x.db", tmp_real);
	CHECK(str_eq(cfg.store_path, want), "path relative to sub/: %s",
	      cfg.store_path);
	config_free(&cfg);

	CHECK(config_load("sub/bad.ini", &cfg, err, sizeof(err)) == -1 &&
		  !strcmp(err, "sub/bad.ini:3: unknown key 'bogus' in "
			       "[namespace a]"),
	      "message names the file as given: %s", err);

	if (fchdir(cwd) < 0) {
		perror("fchdir");
		exit(1);
	}
	close(cwd);
}

static void test_example(void)
{
	struct config cfg;
	const struct config_ns *ns;
	char err[512], cwd[PATH_MAX], want[PATH_MAX + 16];
	int rc;

	rc = config_load("kvfs.ini.example", &cfg, err, sizeof(err));
	CHECK(rc == 0, "kvfs.ini.example loads%s%s", rc ? ": " : "",
	      rc ? err : "");
	if (rc)
		return;
	if (!realpath(".", cwd)) {
		perror("realpath");
		exit(1);
	}
	snprintf(want, sizeof(want), "%s/kvfs.db", cwd);
	CHECK(str_eq(cfg.store_path, want), "example: store beside it: %s",
	      cfg.store_path);
	CHECK(cfg.busy_timeout_ms == 5000 && cfg.file_mode == 0644 &&
		  cfg.dir_mode == 0755 && cfg.kernel_cache_sec == 1 &&
		  cfg.uid == geteuid() && cfg.gid == getegid(),
	      "example: every option at its default");
	ns = config_find_ns(&cfg, "CACHE_KV");
	CHECK(ns && ns->id && ns->layout == CONFIG_LAYOUT_TREE,
	      "example: CACHE_KV with an id");
	ns = config_find_ns(&cfg, "SESSIONS_KV");
	CHECK(ns && !ns->id && ns->layout == CONFIG_LAYOUT_FLAT,
	      "example: a flat namespace");
	config_free(&cfg);
}

/* Set or (value NULL) unset an environment variable. */
static void set_env(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

static void check_default(const char *xdg, const char *home, const char *want)
{
	struct config cfg;
	char err[512] = "";
	int rc;

	set_env("XDG_DATA_HOME", xdg);
	set_env("HOME", home);

	rc = config_default(&cfg, err, sizeof(err));
	if (!want) {
		CHECK(rc == -1 && is_empty(&cfg) &&
			  !strcmp(err, "no place for the database: "
				       "neither XDG_DATA_HOME nor HOME "
				       "is an absolute path"),
		      "default, XDG_DATA_HOME %s, HOME %s: error '%s'",
		      xdg ? xdg : "unset", home ? home : "unset", err);
		return;
	}
	CHECK(rc == 0 && str_eq(cfg.store_path, want),
	      "default, XDG_DATA_HOME %s, HOME %s: %s", xdg ? xdg : "unset",
	      home ? home : "unset", rc ? err : cfg.store_path);
	CHECK(rc == 0 && !cfg.file && cfg.ns_count == 1 &&
		  str_eq(cfg.ns[0].name, "default") && !cfg.ns[0].id &&
		  cfg.ns[0].layout == CONFIG_LAYOUT_TREE &&
		  cfg.busy_timeout_ms == 5000 && cfg.uid == geteuid() &&
		  cfg.gid == getegid() && cfg.file_mode == 0644 &&
		  cfg.dir_mode == 0755 && cfg.kernel_cache_sec == 1,
	      "default: one tree namespace 'default', other defaults");
	if (rc == 0)
		config_free(&cfg);
}

static void test_default(void)
{
	char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

	xdg = xdg ? strdup(xdg) : NULL;
	home = home ? strdup(home) : NULL;

	check_default("/xdg/data", "/home/kv", "/xdg/data/kvfs/kvfs.db");
	check_default("relative", "/home/kv",
		      "/home/kv/.local/share/kvfs/kvfs.db");
	check_default(NULL, "/home/kv", "/home/kv/.local/share/kvfs/kvfs.db");
	check_default("/xdg", NULL, "/xdg/kvfs/kvfs.db");
	check_default(NULL, NULL, NULL);
	check_default("", "", NULL);

	set_env("XDG_DATA_HOME", xdg);
	set_env("HOME", home);
	free(xdg);
	free(home);
}

static int remove_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	return remove(path);
}

/* backend = cloudflare: its options, defaults and errors. */
static void test_remote(void)
{
	struct config cfg;
	const struct config_remote *r;
	char want[PATH_MAX * 2];

	WRITE("token", "s3cret-token\n");
	setenv("KVFS_TEST_TOKEN", "env-token", 1);
	CHECK(LOAD("[namespace kv]\n"
		   "backend = cloudflare\n"
		   "account_id = 0123abcd\n"
		   "id = 89efab\n"
		   "api_token_file = token\n",
		   &cfg),
	      "a remote namespace with the required options loads");
	r = &cfg.ns[0].remote;
	snprintf(want, sizeof(want), "%s/kvfs.db-cache-89efab.db", tmp_real);
	CHECK(cfg.ns[0].backend == CONFIG_BACKEND_CLOUDFLARE &&
		  str_eq(r->account_id, "0123abcd") &&
		  str_eq(r->api_token, "s3cret-token") &&
		  str_eq(r->api_base, CONFIG_API_BASE) &&
		  str_eq(r->cache_path, want) && r->cache_ttl_sec == 60 &&
		  r->cache_max_mb == 64 && r->retry_max_sec == 30 &&
		  !r->is_stale_if_error,
	      "remote defaults; the token file's newline is cut");
	config_free(&cfg);

	CHECK(LOAD("[namespace kv]\n"
		   "backend = cloudflare\n"
		   "account_id = 0123abcd\n"
		   "id = 89efab\n"
		   "api_token_env = KVFS_TEST_TOKEN\n"
		   "api_base = http://127.0.0.1:8787/client/v4/\n"
		   "cache_ttl = 30\n"
		   "cache_max_mb = 1\n"
		   "cache_path = c.db\n"
		   "stale_if_error = true\n"
		   "retry_max_sec = 0\n"
		   "read_only = true\n"
		   "layout = flat\n"
		   "[namespace local]\n",
		   &cfg),
	      "every remote option");
	r = &cfg.ns[0].remote;
	snprintf(want, sizeof(want), "%s/c.db", tmp_real);
	CHECK(str_eq(r->api_token, "env-token") &&
		  str_eq(r->api_base, "http://127.0.0.1:8787/client/v4") &&
		  str_eq(r->cache_path, want) && r->cache_ttl_sec == 30 &&
		  r->cache_max_mb == 1 && r->retry_max_sec == 0 &&
		  r->is_stale_if_error && cfg.ns[0].is_read_only &&
		  cfg.ns[0].layout == CONFIG_LAYOUT_FLAT &&
		  cfg.ns[1].backend == CONFIG_BACKEND_SQLITE,
	      "every remote option's value, and a local namespace beside");
	config_free(&cfg);

	BAD("[namespace a]\ncache_ttl = 60\n",
	    "2: cache_ttl needs backend = cloudflare");
	BAD("[namespace a]\nbackend = sqlite\naccount_id = 1\n",
	    "3: account_id needs backend = cloudflare");
	BAD("[namespace a]\nbackend = cloudflare\nid = 1\n"
	    "account_id = 2\n",
	    "1: [namespace a]: backend = cloudflare needs api_token_file or "
	    "api_token_env");
	BAD("[namespace a]\nbackend = cloudflare\naccount_id = 2\n"
	    "api_token_file = token\n[namespace b]\n",
	    "1: [namespace a]: backend = cloudflare needs id (the namespace "
	    "id)");
	BAD("[namespace a]\nbackend = cloudflare\nid = 1\n"
	    "api_token_file = token\n",
	    "1: [namespace a]: backend = cloudflare needs account_id");
	BAD("[namespace a]\nbackend = cloudflare\nid = 1/2\n",
	    "1: [namespace a]: id must be the namespace id: up to 64 "
	    "letters, digits, - or _");
	BAD("[namespace a]\nbackend = cloudflare\naccount_id = a b\n",
	    "3: bad value 'a b' for account_id: expected the account id: up "
	    "to 64 letters, digits, - or _");
	BAD("[namespace a]\nbackend = s3\n",
	    "2: bad value 's3' for backend: expected 'sqlite' or "
	    "'cloudflare'");
	BAD("[namespace a]\nbackend = cloudflare\ncache_ttl = 29\n",
	    "3: bad value '29' for cache_ttl: expected seconds, at least 30 "
	    "(as Workers KV's cacheTtl)");
	BAD("[namespace a]\nbackend = cloudflare\napi_token_file = token\n"
	    "api_token_env = KVFS_TEST_TOKEN\n",
	    "4: give api_token_file or api_token_env, not both");
	BAD("[namespace a]\nbackend = cloudflare\n"
	    "api_token_env = KVFS_TEST_NO_SUCH_VAR\n",
	    "3: api_token_env: environment variable 'KVFS_TEST_NO_SUCH_VAR' "
	    "is not set");
	BAD("[namespace a]\nbackend = cloudflare\n"
	    "api_token_file = missing\n",
	    "3: api_token_file 'missing': No such file or directory");
	WRITE("empty", "\n");
	BAD("[namespace a]\nbackend = cloudflare\napi_token_file = empty\n",
	    "3: api_token_file: the file is empty");
	BAD("[namespace a]\nbackend = cloudflare\napi_base = ftp://x\n",
	    "3: bad value 'ftp://x' for api_base: expected an http:// or "
	    "https:// URL");
	BAD("[namespace a]\nbackend = cloudflare\ncache_max_mb = 0\n",
	    "3: bad value '0' for cache_max_mb: expected MiB from 1 to "
	    "1048576");
	BAD("[namespace a]\nbackend = cloudflare\nstale_if_error = maybe\n",
	    "3: bad value 'maybe' for stale_if_error: expected true or false "
	    "(or yes/no, 1/0)");
	BAD("[namespace a]\nbackend = cloudflare\nretry_max_sec = 601\n",
	    "3: bad value '601' for retry_max_sec: expected seconds from 0 "
	    "to 600");
	BAD("[namespace a]\nbackend = cloudflare\napi_token = abc\n",
	    "3: unknown key 'api_token' in [namespace a]");
}

int main(void)
{
	if (!mkdtemp(tmp) || !realpath(tmp, tmp_real)) {
		perror(tmp);
		return 1;
	}

	test_every_option();
	test_defaults();
	test_values();
	test_syntax();
	test_bad_structure();
	test_bad_values();
	test_every_key_wrong();
	test_bad_names();
	test_bad_syntax();
	test_bad_file();
	test_relative();
	test_example();
	test_default();
	test_remote();

	if (nftw(tmp, remove_one, 8, FTW_DEPTH | FTW_PHYS) < 0)
		perror(tmp);
	return CHECK_DONE();
}
