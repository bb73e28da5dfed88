// SPDX-License-Identifier: Apache-2.0
//
// monitor.c: the sbx parent of an attached sandbox that runs a while (see
// sandbox/monitor.go) re-executes itself as this monitor, which the
// constructor runs before any Go starts: the same pid, still the parent of
// the sandbox's pid 1, at a fraction of the memory.

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor.h"
#include "pid1.h"
#include "sbxwire.h"
#include "stamp.h"

#define SBX_ENV_CLEANUP "_SBX_CLEANUP"

extern char **environ;

// cleanup_and_exit re-executes sbx (Go) to remove the sandbox's record if it
// is still its own, and to exit with code; without a record it just exits.
__attribute__((noreturn))
static void cleanup_and_exit(int code, long pid, unsigned long long start, const char *record)
{
	if (strcmp(record, "-") == 0)
		_exit(code);
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **envp = calloc(n + 2, sizeof(char *));
	char cleanup[256];
	if (envp == NULL)
		_exit(code);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], SBX_ENV_MONITOR "=", sizeof(SBX_ENV_MONITOR)) != 0)
			envp[k++] = environ[i];
	snprintf(cleanup, sizeof(cleanup), SBX_ENV_CLEANUP "=%d %ld %llu %s", code, pid, start, record);
	envp[k++] = cleanup;
	envp[k] = NULL;
	char *argv[] = { "sbx", "cleanup", NULL };
	execve("/proc/self/exe", argv, envp);
	dprintf(2, "sbx: remove the record of sandbox %s: exec: %s\n", record, strerror(errno));
	_exit(code);
}

// monitor is all an attached sbx does once its sandbox has run for a while
// (see sandbox/monitor.go): forward signals to the sandbox's pid 1, wait for
// it, and end like it. The Go side blocked the signals before its exec, so
// none is lost in between.
void monitor(const char *arg)
{
	long pid;
	unsigned long long start;
	char record[128];
	if (sscanf(arg, "%ld %llu %127s", &pid, &start, record) != 3 || pid <= 1) {
		dprintf(2, "sbx: bad %s=%s: it is internal to sbx, unset it\n", SBX_ENV_MONITOR, arg);
		_exit(SBX_EXIT_FAILED);
	}
	sbx_stamp_fd = sbx_stamp_env_fd();
	sbx_stamp("monitor.start");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	add_forwarded_signals(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		dprintf(2, "sbx: monitor: block signals: %s\n", strerror(errno));
		_exit(SBX_EXIT_FAILED);
	}
	prctl(PR_SET_NAME, "sbx", 0, 0, 0);
	int status;
	for (;;) {
		pid_t r = waitpid((pid_t)pid, &status, WNOHANG);
		if (r == (pid_t)pid)
			break;
		if (r < 0 && errno != EINTR) {
			dprintf(2, "sbx: monitor: wait for sandbox pid %ld: %s (%s is internal to sbx: unset it)\n",
				pid, strerror(errno), SBX_ENV_MONITOR);
			_exit(SBX_EXIT_FAILED);
		}
		siginfo_t info;
		int sig = sigwaitinfo(&set, &info);
		if (sig > 0 && sig != SIGCHLD)
			kill((pid_t)pid, sig); // ESRCH: it is just gone
	}
	sbx_stamp("monitor.cleanup");
	cleanup_and_exit(exit_like(status), pid, start, record);
}
