// SPDX-License-Identifier: Apache-2.0
//
// nsexec.c: the part of sbx that must run before the Go runtime starts.
//
// Creating or joining namespaces (above all the user and mount namespaces)
// requires a single-threaded process, and the Go runtime starts threads
// before main. So sbx re-executes itself with an init socket in
// _SBX_INITPIPE, and this cgo constructor does the staged work first:
//
//   stage 0  the re-executed process. Reads the bootstrap data, creates
//            stage 1, writes stage 1's id maps (itself, or through the
//            setuid helpers newuidmap/newgidmap) and exits.
//   stage 1  unshares CLONE_NEWUSER first, waits until stage 0 has mapped
//            it, unshares the other namespaces and creates stage 2.
//   stage 2  the first process of the new PID namespace (pid 1). It waits
//            for the go-ahead of the sbx parent, starts a new session,
//            forks the Go init (pid 2) and stays behind as a tiny C init
//            that reaps zombies and forwards signals.
//
// Stages 1 and 2 are created with CLONE_PARENT, so they are children of the
// sbx parent itself: the parent can wait for the sandbox's pid 1, and the
// parent-death signal of pid 1 is tied to the parent, not to a stage that
// exits during setup.
//
// Every failure ends in one MSG_ERROR frame on the init socket that names
// the stage, the step and errno; the sbx parent prints it as one line.
// The wire format is documented in protocol.go.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/sched.h>

#include "cloned_binary.h"
#include "logrelay.h"
#include "nsexec.h"

// Frame types: keep in sync with protocol.go.
enum {
	MSG_BOOTSTRAP = 1,
	MSG_ERROR = 2,
	MSG_STAGE1_PID = 3,
	MSG_STAGE2_PID = 4,
	MSG_CONTINUE = 5,
};

// Bootstrap attribute types: keep in sync with bootstrap.go.
enum {
	ATTR_CLONE_FLAGS = 1,
	ATTR_UID_MAP = 2,
	ATTR_GID_MAP = 3,
	ATTR_UIDMAP_HELPER = 4,
	ATTR_GIDMAP_HELPER = 5,
	ATTR_SETGROUPS_DENY = 6,
	ATTR_PDEATHSIG = 7,
	ATTR_CLONE_METHOD = 8,
	ATTR_JOIN_PIDFD = 9,
	ATTR_JOIN_FLAGS = 10,
	ATTR_LOG_MAX = 11,
};

// After stage 2 re-executes itself from the unwritable copy of the binary,
// these tell the new image where it is. The marker is believed only
// together with the protection itself (sbx_binary_protection).
#define ENV_RESUME "_SBX_RESUME"
#define ENV_CLONED "_SBX_CLONED"
#define ENV_PDEATHSIG "_SBX_PDEATHSIG"
#define ENV_LOGMAX "_SBX_LOGMAX"

// Bytes exchanged between stage 0 and stage 1 on their private socket.
enum {
	SYNC_USERNS_READY = 0x40,
	SYNC_MAPPED = 0x41,
};

#define MAX_BOOTSTRAP (1 << 20)

struct bootstrap {
	uint32_t clone_flags;
	const char *uid_map;	// "inside outside count\n" lines, NUL-terminated
	const char *gid_map;
	const char *uidmap_helper; // newuidmap path, or NULL to write directly
	const char *gidmap_helper;
	int setgroups_deny;
	int pdeathsig;
	int clone_method; // SBX_CLONE_*
	int join_pidfd;   // > 0: join the namespaces of this process (sbx exec)
	uint32_t join_flags;
	uint32_t log_max; // > 0: relay stdout and stderr to the log, capped
};

// sbx_role tells the Go side what this process is once the constructor
// returns: SBX_ROLE_NONE for every ordinary invocation of sbx.
int sbx_role = SBX_ROLE_NONE;
int sbx_init_fd = -1;

static int init_fd = -1;
static int current_stage = 0;

// ---- reporting -----------------------------------------------------------

struct frame_header {
	uint32_t type;
	uint32_t len;
};

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

// send_frame writes one frame as a single write so that frames of stages
// sharing the socket never interleave.
static int send_frame(uint32_t type, const void *payload, uint32_t len)
{
	char buf[sizeof(struct frame_header) + 1024];
	struct frame_header h = { .type = type, .len = len };
	if (len > sizeof(buf) - sizeof(h)) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	return write_all(init_fd, buf, sizeof(h) + len);
}

// bail reports a failure of the current stage to the sbx parent and exits.
// The message says what failed; err is the errno of the failed call (0 if
// none).
__attribute__((noreturn, format(printf, 2, 3)))
static void bail(int err, const char *fmt, ...)
{
	struct {
		int32_t stage;
		int32_t err;
		char text[512];
	} msg;
	va_list ap;

	msg.stage = current_stage;
	msg.err = err;
	va_start(ap, fmt);
	int n = vsnprintf(msg.text, sizeof(msg.text), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg.text))
		n = sizeof(msg.text) - 1;
	if (send_frame(MSG_ERROR, &msg, (uint32_t)(offsetof(__typeof__(msg), text) + n)) < 0) {
		// The parent is gone or the socket broke: stderr is all we have.
		dprintf(2, "sbx: stage %d: %s: %s\n", current_stage, msg.text, strerror(err));
	}
	_exit(125);
}

static void send_pid(uint32_t type, pid_t pid)
{
	int32_t v = pid;
	if (send_frame(type, &v, sizeof(v)) < 0)
		bail(errno, "report pid %d to the sbx parent", pid);
}

// ---- bootstrap -----------------------------------------------------------

static char *read_frame(uint32_t want_type, uint32_t *len)
{
	struct frame_header h;
	if (read_all(init_fd, &h, sizeof(h)) < 0)
		bail(errno, "read frame header from init socket");
	if (h.type != want_type)
		bail(EPROTO, "unexpected frame type %u (want %u)", h.type, want_type);
	if (h.len > MAX_BOOTSTRAP)
		bail(EMSGSIZE, "frame of %u bytes is too large", h.len);
	char *buf = malloc(h.len + 1);
	if (buf == NULL)
		bail(errno, "allocate %u bytes for bootstrap", h.len);
	if (h.len > 0 && read_all(init_fd, buf, h.len) < 0)
		bail(errno, "read %u bytes of frame from init socket", h.len);
	buf[h.len] = '\0';
	*len = h.len;
	return buf;
}

static uint32_t attr_u32(const char *val, uint32_t len, const char *name)
{
	uint32_t v;
	if (len != sizeof(v))
		bail(EPROTO, "bootstrap attribute %s has length %u, want 4", name, len);
	memcpy(&v, val, sizeof(v));
	return v;
}

// attr_string returns a NUL-terminated copy of a string attribute.
static const char *attr_string(const char *val, uint32_t len)
{
	char *s = malloc(len + 1);
	if (s == NULL)
		bail(errno, "allocate bootstrap string");
	memcpy(s, val, len);
	s[len] = '\0';
	return s;
}

// parse_bootstrap decodes the attribute list: each attribute is a u16 type,
// a u16 that must be zero, a u32 length and the value.
static void parse_bootstrap(const char *data, uint32_t len, struct bootstrap *b)
{
	uint32_t off = 0;
	memset(b, 0, sizeof(*b));
	while (off < len) {
		uint16_t type, pad;
		uint32_t alen;
		if (len - off < 8)
			bail(EPROTO, "truncated bootstrap attribute header at offset %u", off);
		memcpy(&type, data + off, 2);
		memcpy(&pad, data + off + 2, 2);
		memcpy(&alen, data + off + 4, 4);
		off += 8;
		if (pad != 0 || alen > len - off)
			bail(EPROTO, "malformed bootstrap attribute %u at offset %u", type, off - 8);
		const char *val = data + off;
		switch (type) {
		case ATTR_CLONE_FLAGS:
			b->clone_flags = attr_u32(val, alen, "clone flags");
			break;
		case ATTR_UID_MAP:
			b->uid_map = attr_string(val, alen);
			break;
		case ATTR_GID_MAP:
			b->gid_map = attr_string(val, alen);
			break;
		case ATTR_UIDMAP_HELPER:
			b->uidmap_helper = attr_string(val, alen);
			break;
		case ATTR_GIDMAP_HELPER:
			b->gidmap_helper = attr_string(val, alen);
			break;
		case ATTR_SETGROUPS_DENY:
			b->setgroups_deny = attr_u32(val, alen, "setgroups deny") != 0;
			break;
		case ATTR_PDEATHSIG:
			b->pdeathsig = (int)attr_u32(val, alen, "parent death signal");
			break;
		case ATTR_CLONE_METHOD:
			b->clone_method = (int)attr_u32(val, alen, "clone method");
			break;
		case ATTR_JOIN_PIDFD:
			b->join_pidfd = (int)attr_u32(val, alen, "join pidfd");
			break;
		case ATTR_JOIN_FLAGS:
			b->join_flags = attr_u32(val, alen, "join flags");
			break;
		case ATTR_LOG_MAX:
			b->log_max = attr_u32(val, alen, "log cap");
			break;
		default:
			if (type >= 12) // temporary: the Go side's (until sbxwire.h)
				break;
			bail(EPROTO, "unknown bootstrap attribute %u", type);
		}
		off += alen;
	}
}

// ---- processes -----------------------------------------------------------

// clone_parent creates a child whose parent is our own parent (the sbx
// process), continuing on a copy of this stack like fork(2). clone3 where the
// kernel has it, the classic clone otherwise.
static pid_t clone_parent(void)
{
	// With CLONE_PARENT the exit signal is our own (SIGCHLD, as os/exec
	// started stage 0); clone3 insists that exit_signal is left zero.
	struct clone_args args = {
		.flags = CLONE_PARENT,
	};
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0 && errno == ENOSYS) {
		// Argument order differs between architectures, but with every
		// argument after the flags zero it does not matter (s390 aside).
		pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	}
	return (pid_t)pid;
}

// close_fds_from closes every descriptor >= lowfd.
static void close_fds_from(int lowfd)
{
	if (syscall(SYS_close_range, lowfd, ~0U, 0) == 0)
		return;
	// Kernels before 5.9: close what the fd table may hold.
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = lowfd; fd < max; fd++)
		close((int)fd);
}

// ---- id maps (stage 0) ---------------------------------------------------

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
			_exit(126);
		execve(helper, argv, envp);
		dprintf(2, "exec %s: %s", helper, strerror(errno));
		_exit(127);
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
static void map_stage1(const struct bootstrap *b, pid_t pid)
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

static void sync_send(int fd, char byte, const char *what)
{
	if (write_all(fd, &byte, 1) < 0)
		bail(errno, "send %s to the other stage", what);
}

// sync_wait waits for one byte; EOF means the other stage failed and has
// already reported why, so this one leaves quietly.
static void sync_wait(int fd, char want, const char *what)
{
	char byte;
	ssize_t n;
	do {
		n = read(fd, &byte, 1);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		_exit(125);
	if (n < 0)
		bail(errno, "wait for %s", what);
	if (byte != want)
		bail(EPROTO, "got sync byte %#x while waiting for %s", byte, what);
}

// ---- stage 2: the sandbox's pid 1 ----------------------------------------

static const int forwarded_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
};

// exit_like turns a wait status into an exit code the way shells and
// podman do: the exit code itself, or 128+N for death by signal N.
static int exit_like(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 125;
}

// next_signal waits for one of waitset; with a log relay, it moves the
// command's output to the log meanwhile.
static int next_signal(const sigset_t *waitset, struct log_relay *relay, int sigfd)
{
	for (;;) {
		if (relay == NULL || relay->in < 0) {
			siginfo_t info;
			int sig = sigwaitinfo(waitset, &info);
			if (sig < 0 && errno != EINTR)
				bail(errno, "sigwaitinfo in sandbox init");
			if (sig > 0)
				return sig;
			continue;
		}
		struct pollfd fds[2] = { { .fd = sigfd, .events = POLLIN }, { .fd = relay->in, .events = POLLIN } };
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			bail(errno, "poll in sandbox init");
		}
		if (fds[1].revents != 0 && log_relay_pump(relay, 0) == 0) {
			close(relay->in); // every writer is gone
			relay->in = -1;
		}
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				return (int)si.ssi_signo;
		}
	}
}

// run_init is the whole life of the sandbox's pid 1: forward signals to the
// command, reap every orphan, relay a detached sandbox's output to its log,
// and exit with the command's status, which takes the rest of the PID
// namespace down with it.
__attribute__((noreturn))
static void run_init(pid_t command, const sigset_t *waitset, struct log_relay *relay)
{
	int sigfd = -1;
	if (relay != NULL && (sigfd = signalfd(-1, waitset, SFD_CLOEXEC)) < 0)
		bail(errno, "signalfd in sandbox init");
	for (;;) {
		int sig = next_signal(waitset, relay, sigfd);
		if (sig != SIGCHLD) {
			// The command may be gone already; ESRCH is fine.
			kill(command, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			if (pid == command) {
				if (relay != NULL && relay->in >= 0)
					log_relay_pump(relay, 1);
				_exit(exit_like(status));
			}
		}
	}
}

// raise_ambient_caps keeps every capability across the re-execution of
// stage 2, which runs as a non-root uid inside when the caller's own id is
// mapped. The Go init clears them again before it execs the command.
static void raise_ambient_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &hdr, data) < 0)
		bail(errno, "capget");
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		data[i].inheritable = data[i].permitted;
	if (syscall(SYS_capset, &hdr, data) < 0)
		bail(errno, "capset inheritable");
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
			if (errno == EINVAL)
				break; // past the kernel's last capability
			bail(errno, "raise ambient capability %d", cap);
		}
	}
}

// reexec_from_clone replaces stage 2 with an unwritable copy of the sbx
// binary (see clonedbinary/), so that the sandbox's pid 1 and the Go init
// never run from the host's file: fd, if it is one (sbx exec got it before
// joining, made with method used), else a copy made here. It does not
// return.
__attribute__((noreturn))
static void reexec_from_clone(const struct bootstrap *b, const char *resume, int fd, int used)
{
	if (fd < 0) {
		fd = sbx_clone_binary(b->clone_method, &used);
		if (fd < 0)
			bail(-fd, "make an unwritable copy of the sbx binary (%s)",
			     used == SBX_CLONE_BIND ? "read-only bind mount" : "sealed memfd");
	}
	raise_ambient_caps();
	// The init socket must survive this one exec.
	if (fcntl(init_fd, F_SETFD, 0) < 0)
		bail(errno, "keep the init socket across exec");

	char pipe_env[32], cloned_env[32], pdeath_env[32], resume_env[32], logmax_env[40];
	snprintf(pipe_env, sizeof(pipe_env), "_SBX_INITPIPE=%d", init_fd);
	snprintf(cloned_env, sizeof(cloned_env), ENV_CLONED "=%s", used == SBX_CLONE_BIND ? "bind" : "memfd");
	snprintf(pdeath_env, sizeof(pdeath_env), ENV_PDEATHSIG "=%d", b->pdeathsig);
	snprintf(resume_env, sizeof(resume_env), ENV_RESUME "=%s", resume);
	snprintf(logmax_env, sizeof(logmax_env), ENV_LOGMAX "=%u", b->log_max);
	// The Go init lives for a few milliseconds: one P and no garbage
	// collection spare it threads and work (the command gets its own
	// environment, not this one).
	char *envp[] = { pipe_env, resume_env, cloned_env, pdeath_env, "GOGC=off", "GOMAXPROCS=1",
			  b->log_max > 0 ? logmax_env : NULL, NULL };
	char *argv[] = { "sbx", "init", NULL };
	syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	bail(errno, "re-execute the unwritable copy of the sbx binary");
}

// drop_all_caps leaves the sandbox's pid 1 with no capability in any set,
// bounding and ambient included: after setup it only waits and forwards
// signals to its own child, which needs none.
static void drop_all_caps(void)
{
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; // past the kernel's last capability
			bail(errno, "drop capability %d from the bounding set", cap);
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		bail(errno, "clear the ambient capabilities");
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		bail(errno, "clear the capability sets");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		bail(errno, "set no_new_privs");
}

// stage2 runs as pid 1 of the new PID namespace, in two halves: before the
// re-execution from the cloned binary (stage2) and after it
// (stage2_resumed). For sbx exec it is the joining process instead, and bin
// the copy of the binary it got before joining (-1 for a new sandbox).
__attribute__((noreturn))
static void stage2(const struct bootstrap *b, int bin, int used)
{
	current_stage = 2;
	if (b->pdeathsig > 0 && prctl(PR_SET_PDEATHSIG, b->pdeathsig) < 0)
		bail(errno, "set parent death signal");
	// Our working directory is still sbx's, a directory of the host's
	// mount tree, which the pivot to the sandbox's root leaves writable
	// behind it (reachable as /proc/1/cwd by anything that may ptrace
	// us). The root instead is moved along by pivot_root, and so is a
	// working directory at the root.
	if (chdir("/") < 0)
		bail(errno, "change to the root directory");
	reexec_from_clone(b, b->join_pidfd > 0 ? "exec" : "2", bin, used);
}

// resume_checked is the common start of a re-executed stage 2: believe the
// marker only together with the protection, re-arm the death signal, become
// non-dumpable, wait for the parent's go-ahead and start a new session.
static void resume_checked(void)
{
	current_stage = 2;
	const char *marker = getenv(ENV_CLONED);
	int protection = sbx_binary_protection();
	if (protection < 0)
		bail(-protection, "check the copy of the sbx binary");
	int want = marker == NULL ? -1 : strcmp(marker, "bind") == 0 ? SBX_CLONE_BIND
				       : strcmp(marker, "memfd") == 0 ? SBX_CLONE_MEMFD : -1;
	if (protection == 0 || protection != want)
		bail(EPERM, "resumed stage 2 does not run from an unwritable copy of the sbx binary (marker %s)",
		     marker ? marker : "missing");
	const char *pd = getenv(ENV_PDEATHSIG);
	int pdeathsig = pd ? atoi(pd) : 0;
	if (pdeathsig > 0 && prctl(PR_SET_PDEATHSIG, pdeathsig) < 0)
		bail(errno, "set parent death signal");
	// Nothing in the sandbox may ptrace this process or open its /proc
	// files; the Go init inherits this until it execs the command.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail(errno, "make sandbox init non-dumpable");

	// The go-ahead doubles as a liveness check: if the sbx parent died
	// before the death signal was armed, this read sees EOF.
	struct frame_header h;
	if (read_all(init_fd, &h, sizeof(h)) < 0) {
		if (errno == EPIPE)
			_exit(125);
		bail(errno, "wait for the go-ahead of the sbx parent");
	}
	if (h.type != MSG_CONTINUE || h.len != 0)
		bail(EPROTO, "unexpected frame type %u while waiting for the go-ahead", h.type);

	// A new session: the caller's terminal is never our controlling
	// terminal (no TIOCSTI into it, no job-control signals from it: the
	// sbx parent forwards what it receives instead).
	if (setsid() < 0)
		bail(errno, "setsid");
}

// stage2_exec_resumed is a joining sbx exec: the process goes on to the Go
// side, which execs the command; it stays a child of the sbx parent.
static void stage2_exec_resumed(void)
{
	resume_checked();
	sbx_role = SBX_ROLE_EXEC;
}

static void stage2_resumed(void)
{
	resume_checked();

	sigset_t waitset;
	sigemptyset(&waitset);
	sigaddset(&waitset, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaddset(&waitset, forwarded_signals[i]);
	// Block before forking so that no signal is lost in between.
	if (sigprocmask(SIG_BLOCK, &waitset, NULL) < 0)
		bail(errno, "block signals in sandbox init");

	// A detached sandbox's output (its stdout and stderr are the log)
	// goes through a pipe that pid 1 relays to the log, under its cap.
	const char *lm = getenv(ENV_LOGMAX);
	unsigned long log_max = lm ? strtoul(lm, NULL, 10) : 0;
	int logpipe[2] = { -1, -1 };
	if (log_max > 0 && pipe2(logpipe, O_CLOEXEC) < 0)
		bail(errno, "create the log pipe");

	pid_t command = fork();
	if (command < 0)
		bail(errno, "fork the sandbox command");
	if (command == 0) {
		// Stage 1 blocked the forwarded signals for pid 1: they were
		// not in the mask sbx started with.
		if (sigprocmask(SIG_UNBLOCK, &waitset, NULL) < 0)
			bail(errno, "restore signal mask");
		if (log_max > 0 && (dup2(logpipe[1], 1) < 0 || dup2(logpipe[1], 2) < 0))
			bail(errno, "connect the command's output to the log pipe");
		if (log_max > 0) {
			close(logpipe[0]);
			close(logpipe[1]);
		}
		sbx_role = SBX_ROLE_INIT;
		return;
	}
	drop_all_caps();
	struct log_relay relay, *rp = NULL;
	if (log_max > 0) {
		// The pipe's read end goes to 0 (pid 1 reads nothing else), the
		// log stays at 1, and everything from 3 on is closed.
		if (dup2(logpipe[0], 0) < 0)
			bail(errno, "keep the log pipe");
		close(logpipe[1]);
		struct stat st;
		relay = (struct log_relay){ .in = 0, .out = 1, .max = log_max,
					    .size = fstat(1, &st) == 0 ? (uint64_t)st.st_size : 0 };
		rp = &relay;
	}
	close_fds_from(3);
	run_init(command, &waitset, rp);
}

// ---- monitor: the sbx parent of an attached sandbox that runs a while ----

#define ENV_MONITOR "_SBX_MONITOR"
#define ENV_CLEANUP "_SBX_CLEANUP"

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
		if (strncmp(environ[i], ENV_MONITOR "=", sizeof(ENV_MONITOR)) != 0)
			envp[k++] = environ[i];
	snprintf(cleanup, sizeof(cleanup), ENV_CLEANUP "=%d %ld %llu %s", code, pid, start, record);
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
__attribute__((noreturn))
static void monitor(const char *arg)
{
	long pid;
	unsigned long long start;
	char record[128];
	if (sscanf(arg, "%ld %llu %127s", &pid, &start, record) != 3 || pid <= 1) {
		dprintf(2, "sbx: bad %s=%s: it is internal to sbx, unset it\n", ENV_MONITOR, arg);
		_exit(125);
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaddset(&set, forwarded_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		dprintf(2, "sbx: monitor: block signals: %s\n", strerror(errno));
		_exit(125);
	}
	prctl(PR_SET_NAME, "sbx", 0, 0, 0);
	int status;
	for (;;) {
		pid_t r = waitpid((pid_t)pid, &status, WNOHANG);
		if (r == (pid_t)pid)
			break;
		if (r < 0 && errno != EINTR) {
			dprintf(2, "sbx: monitor: wait for sandbox pid %ld: %s (%s is internal to sbx: unset it)\n",
				pid, strerror(errno), ENV_MONITOR);
			_exit(125);
		}
		siginfo_t info;
		int sig = sigwaitinfo(&set, &info);
		if (sig > 0 && sig != SIGCHLD)
			kill((pid_t)pid, sig); // ESRCH: it is just gone
	}
	cleanup_and_exit(exit_like(status), pid, start, record);
}

// ---- stage 1 -------------------------------------------------------------

static void stage1(const struct bootstrap *b, int syncfd)
{
	current_stage = 1;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		bail(errno, "set parent death signal");

	// The user namespace comes first: every other namespace is then owned
	// by it, and creating them needs the capabilities it grants.
	if (b->clone_flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			bail(errno, "unshare the user namespace");
		sync_send(syncfd, SYNC_USERNS_READY, "user namespace ready");
		sync_wait(syncfd, SYNC_MAPPED, "id maps");
	}
	close(syncfd);

	uint32_t rest = b->clone_flags & ~(uint32_t)CLONE_NEWUSER;
	if (rest != 0 && unshare((int)rest) < 0)
		bail(errno, "unshare namespaces (flags %#x)", rest);

	// The signals the sbx parent forwards are blocked for pid 1 from its
	// first instruction on (the mask is inherited, and survives its
	// exec), so that none is lost before run_init waits for them: pid 1
	// of a PID namespace drops a signal it neither blocks nor handles.
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaddset(&set, forwarded_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		bail(errno, "block signals for the sandbox init");

	// Entering the new PID namespace takes a new process.
	pid_t pid = clone_parent();
	if (pid < 0)
		bail(errno, "create the sandbox init process");
	if (pid == 0)
		stage2(b, -1, 0);
	send_pid(MSG_STAGE2_PID, pid);
	_exit(0);
}

// ---- stage 0 -------------------------------------------------------------

// join_sandbox is stage 0 of sbx exec: get the unwritable copy of the
// binary while still outside, enter the namespaces of the sandbox's pid 1
// through its pidfd (the user namespace first: setns with a pidfd enters
// them all at once, in the right order), then fork into its PID namespace.
__attribute__((noreturn))
static void join_sandbox(const struct bootstrap *b)
{
	// Nothing in the sandbox may ptrace or open /proc/PID/exe of this
	// process while it still runs from the host's binary.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail(errno, "make the joining process non-dumpable");
	// Before joining: inside, the binary's path could lead anywhere (a
	// FIFO there would block an open forever).
	int used = 0;
	int bin = sbx_clone_for_join(b->join_pidfd, b->clone_method, &used);
	if (bin < 0) {
		if (used == SBX_CLONE_BIND)
			bail(-bin, "SBX_CLONE=bind: the sandbox's pid 1 does not run from a read-only bind of this sbx binary");
		bail(-bin, "make an unwritable copy of the sbx binary (sealed memfd)");
	}
	if (b->join_flags != 0 && setns(b->join_pidfd, (int)b->join_flags) < 0)
		bail(errno, "join the namespaces of the sandbox (flags %#x; Linux 5.8 or newer is needed)", b->join_flags);
	close(b->join_pidfd);
	pid_t pid = clone_parent();
	if (pid < 0)
		bail(errno, "create the joining process");
	if (pid == 0)
		stage2(b, bin, used);
	send_pid(MSG_STAGE2_PID, pid);
	_exit(0);
}

static void stage0(const struct bootstrap *b)
{
	// A session of its own before anything enters the sandbox: no stage
	// and no joining process ever has the caller's terminal as its
	// controlling terminal, not even before it re-executes and while a
	// sandbox given CAP_SYS_PTRACE could attach to it.
	if (setsid() < 0)
		bail(errno, "setsid");
	if (b->join_pidfd > 0)
		join_sandbox(b);

	int sync[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0)
		bail(errno, "create stage socket pair");

	pid_t pid = clone_parent();
	if (pid < 0)
		bail(errno, "create stage 1");
	if (pid == 0) {
		close(sync[0]);
		stage1(b, sync[1]);
		return;
	}
	close(sync[1]);
	send_pid(MSG_STAGE1_PID, pid);

	if (b->clone_flags & CLONE_NEWUSER) {
		sync_wait(sync[0], SYNC_USERNS_READY, "stage 1 to create its user namespace");
		map_stage1(b, pid);
		sync_send(sync[0], SYNC_MAPPED, "id maps written");
	}
	_exit(0);
}

// ---- entry ---------------------------------------------------------------

__attribute__((constructor))
static void nsexec(void)
{
	const char *mon = getenv(ENV_MONITOR);
	if (mon != NULL)
		monitor(mon);

	const char *env = getenv("_SBX_INITPIPE");
	if (env == NULL)
		return;

	char *end;
	errno = 0;
	long fd = strtol(env, &end, 10);
	if (errno != 0 || *end != '\0' || fd < 3 || fd > 1 << 20) {
		dprintf(2, "sbx: bad _SBX_INITPIPE=%s: it is internal to sbx, unset it\n", env);
		_exit(125);
	}
	init_fd = (int)fd;
	// "exe" (from /proc/self/exe) says nothing in ps; name the stages.
	prctl(PR_SET_NAME, "sbx", 0, 0, 0);
	// Helpers and the command must never inherit the init socket.
	if (fcntl(init_fd, F_SETFD, FD_CLOEXEC) < 0) {
		dprintf(2, "sbx: init socket fd %d: %s\n", init_fd, strerror(errno));
		_exit(125);
	}

	const char *resume = getenv(ENV_RESUME);
	if (resume != NULL) {
		if (strcmp(resume, "exec") == 0)
			stage2_exec_resumed();
		else
			stage2_resumed();
		sbx_init_fd = init_fd;
		return;
	}

	uint32_t len;
	char *data = read_frame(MSG_BOOTSTRAP, &len);
	struct bootstrap b;
	parse_bootstrap(data, len, &b);
	free(data);

	stage0(&b);
	// Only the Go init gets here.
	sbx_init_fd = init_fd;
}
