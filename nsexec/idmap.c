//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// idmap.c: the id maps of a new user namespace, written by stage 0 from
// outside it: directly to /proc/PID/uid_map and gid_map, or through the
// setuid helpers newuidmap and newgidmap when the bootstrap names them (for
// the ranges of /etc/subuid and /etc/subgid).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec.h"
#include "idmap.h"
#include "sbxwire.h"

// write_proc_file writes data to /proc/PID/file in one write, as the kernel
// wants an id map.
static void write_proc_file(pid_t pid, const char *file, const char *data)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		bail(errno, "open %s", path);
	size_t len = strlen(data);
	ssize_t n = write(fd, data, len);
	if (n < 0 || (size_t)n != len) {
		int err = n < 0 ? errno : EIO;
		close(fd);
		bail(err, "write \"%.*s\" to %s", (int)strcspn(data, "\n"), data, path);
	}
	close(fd);
}

// MAX_HELPER_ARGS bounds the arguments of a helper: 3 per mapping line.
#define MAX_HELPER_ARGS 1024

// helper_run is a running newuidmap or newgidmap.
struct helper_run {
	const char *helper;
	pid_t pid;   // the helper's pid
	int errfd;   // read end of its stdout and stderr
	pid_t target;
};

// start_map_helper starts newuidmap or newgidmap for target with the mapping
// lines turned into arguments.
static struct helper_run start_map_helper(const char *helper, pid_t target, const char *map)
{
	char *argv[MAX_HELPER_ARGS];
	char pidstr[16];
	int argc = 0;

	char *copy = strdup(map);
	if (copy == NULL)
		bail(errno, "copy id map for %s", helper);
	argv[argc++] = (char *)helper;
	snprintf(pidstr, sizeof(pidstr), "%d", target);
	argv[argc++] = pidstr;
	char *save = NULL;
	for (char *tok = strtok_r(copy, " \n", &save); tok != NULL; tok = strtok_r(NULL, " \n", &save)) {
		if (argc >= MAX_HELPER_ARGS - 1)
			bail(E2BIG, "id map for %s has too many fields", helper);
		argv[argc++] = tok;
	}
	argv[argc] = NULL;

	int errpipe[2];
	if (pipe2(errpipe, O_CLOEXEC) < 0)
		bail(errno, "create pipe for %s", helper);
	pid_t child = fork();
	if (child < 0)
		bail(errno, "fork to run %s", helper);
	if (child == 0) {
		char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
		if (dup2(errpipe[1], 1) < 0 || dup2(errpipe[1], 2) < 0)
			_exit(SBX_EXIT_CANNOT_EXECUTE);
		execve(helper, argv, envp);
		dprintf(2, "exec %s: %s", helper, strerror(errno));
		_exit(SBX_EXIT_NOT_FOUND);
	}
	close(errpipe[1]);
	free(copy);
	return (struct helper_run){ .helper = helper, .pid = child, .errfd = errpipe[0], .target = target };
}

// finish_map_helper waits for a helper and reports its own output as the
// reason when it failed.
static void finish_map_helper(struct helper_run *h)
{
	char out[400];
	size_t used = 0;
	for (;;) {
		ssize_t n = read(h->errfd, out + used, sizeof(out) - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used == sizeof(out) - 1)
			break;
	}
	out[used] = '\0';
	close(h->errfd);

	int status;
	while (waitpid(h->pid, &status, 0) < 0) {
		if (errno != EINTR)
			bail(errno, "wait for %s", h->helper);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;

	// One line: join the helper's output lines.
	while (used > 0 && (out[used - 1] == '\n' || out[used - 1] == ' '))
		out[--used] = '\0';
	for (size_t i = 0; i < used; i++)
		if (out[i] == '\n')
			out[i] = ' ';
	if (WIFEXITED(status))
		bail(0, "%s for pid %d failed with exit status %d: %s", h->helper, h->target, WEXITSTATUS(status), out);
	bail(0, "%s for pid %d killed by signal %d", h->helper, h->target, WTERMSIG(status));
}

// map_stage1 gives stage 1 its uid and gid maps. Stage 1 must still be
// dumpable here: /proc/PID/*_map of a non-dumpable process belong to root.
SBX_INTERNAL void map_stage1(const struct bootstrap *b, pid_t pid)
{
	// With both helpers, run them side by side: each is a setuid exec.
	if (b->uid_map != NULL && b->uidmap_helper != NULL && b->gid_map != NULL &&
	    b->gidmap_helper != NULL && !b->setgroups_deny) {
		struct helper_run u = start_map_helper(b->uidmap_helper, pid, b->uid_map);
		struct helper_run g = start_map_helper(b->gidmap_helper, pid, b->gid_map);
		finish_map_helper(&u);
		finish_map_helper(&g);
		return;
	}
	if (b->uid_map != NULL) {
		if (b->uidmap_helper != NULL) {
			struct helper_run u = start_map_helper(b->uidmap_helper, pid, b->uid_map);
			finish_map_helper(&u);
		} else {
			write_proc_file(pid, "uid_map", b->uid_map);
		}
	}
	// Without CAP_SETGID in the parent namespace, the kernel only accepts a
	// gid map once setgroups(2) is denied, so this comes first.
	if (b->setgroups_deny)
		write_proc_file(pid, "setgroups", "deny");
	if (b->gid_map != NULL) {
		if (b->gidmap_helper != NULL) {
			struct helper_run g = start_map_helper(b->gidmap_helper, pid, b->gid_map);
			finish_map_helper(&g);
		} else {
			write_proc_file(pid, "gid_map", b->gid_map);
		}
	}
}
