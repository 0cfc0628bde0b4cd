/*
 * cli: kvfs's subcommands, the store without FUSE, for scripts and
 * containers where /dev/fuse is absent.  Safe to use while a mount of
 * the same store runs.
 */
#ifndef KVFS_CLI_H
#define KVFS_CLI_H

#include <stdbool.h>

/* True if word names a subcommand (get, put, delete, ...). */
bool cli_is_command(const char *word);

/*
 * Run subcommand argv[0] with its arguments against the store of the
 * config file (NULL: the embedded default).  Returns the exit status:
 * 0, 1 for a failed request, 2 for bad usage.
 */
int cli_main(const char *config, int argc, char **argv);

#endif
