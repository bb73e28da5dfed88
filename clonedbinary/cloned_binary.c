// SPDX-License-Identifier: Apache-2.0
//
// cloned_binary.c: an unwritable copy of the running sbx binary, so that a
// process in a sandbox can never reach the host's binary through
// /proc/PID/exe and overwrite it (the CVE-2019-5736 class).
//
// First choice: a read-only bind mount of /proc/self/exe, made with
// open_tree in the sandbox's own mount namespace and never attached, so no
// path reaches it; zero bytes are copied. Fallback: a copy in a memfd sealed
// against writes, growth, shrinking and further sealing.
//
// A process that joins a running sandbox (sbx exec) gets its copy before it
// joins, without looking up any path inside the sandbox, where anything
// (a FIFO, a FUSE file) could stand at the binary's path and block it: the
// very bind pid 1 runs from, opened through the host's /proc/PID/exe, or a
// sealed memfd copy made on the host's side.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

#include "cloned_binary.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

// same_file reports whether two descriptors refer to the same inode.
static int same_file(int a, int b)
{
	struct stat sa, sb;
	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int clone_by_bind(void)
{
	// /proc/self/exe points into the mount namespace the binary was
	// executed in, which open_tree refuses to clone from; the same path in
	// our own namespace (a copy of it) is cloned instead, and checked to be
	// the very same file below.
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n == sizeof(exe) - 1)
		return -ENAMETOOLONG;
	exe[n] = '\0';
	if (exe[0] != '/')
		return -ENOENT; // "(deleted)" or a memfd: nothing to bind
	int mnt = (int)syscall(SYS_open_tree, AT_FDCWD, exe, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (mnt < 0)
		return -errno;
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
	};
	if (syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		int err = errno;
		close(mnt);
		return -err;
	}
	// Reopen the file through the detached read-only mount; once mnt is
	// closed, the open file is the only reference to that mount.
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mnt);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = errno;
	close(mnt);
	if (fd < 0)
		return -err;
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	int same = same_file(fd, self);
	close(self);
	if (!same) {
		// The path was replaced since sbx started.
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static int clone_by_memfd(void)
{
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return -errno;
	int fd = memfd_create("sbx", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL) // kernels before 6.3 know no MFD_EXEC
		fd = memfd_create("sbx", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		int err = errno;
		close(src);
		return -err;
	}
	for (;;) {
		ssize_t n = sendfile(fd, src, NULL, 1 << 30);
		if (n < 0) {
			int err = errno;
			close(src);
			close(fd);
			return -err;
		}
		if (n == 0)
			break;
	}
	close(src);
	if (fcntl(fd, F_ADD_SEALS, REQUIRED_SEALS) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int sbx_clone_binary(int method, int *used)
{
	int fd = -EINVAL;
	if (method == SBX_CLONE_AUTO || method == SBX_CLONE_BIND) {
		fd = clone_by_bind();
		if (fd >= 0 || method == SBX_CLONE_BIND) {
			*used = SBX_CLONE_BIND;
			return fd;
		}
	}
	*used = SBX_CLONE_MEMFD;
	return clone_by_memfd();
}

// pidfd_pid returns the pid (in our PID namespace) of the process a pidfd
// refers to, from /proc/self/fdinfo, or -errno; -ESRCH once it has exited.
static int pidfd_pid(int pidfd)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	const char *p = strstr(buf, "\nPid:");
	if (p == NULL)
		return -ENOTSUP; // not a pidfd, or a kernel before 5.3
	long pid = strtol(p + 5, NULL, 10);
	return pid > 0 ? (int)pid : -ESRCH;
}

// clone_from_process returns a descriptor of the file the process of pidfd
// runs from, if that is this very binary on a read-only mount (the bind
// that the sandbox's pid 1 made of it), else -errno. Only the host's /proc
// is used: the magic link /proc/PID/exe leads to the file without a path
// lookup, and the file is opened for reading only once it is known to be
// this binary, which no open can block.
static int clone_from_process(int pidfd)
{
	int pid = pidfd_pid(pidfd);
	if (pid < 0)
		return pid;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	int exe = open(path, O_PATH | O_CLOEXEC);
	if (exe < 0)
		return -errno;
	int self = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	if (self < 0) {
		int err = errno;
		close(exe);
		return -err;
	}
	int err = 0;
	struct statvfs st;
	if (!same_file(exe, self))
		err = ESTALE; // another file (a memfd, or sbx was replaced since)
	else if (fstatvfs(exe, &st) < 0)
		err = errno;
	else if (!(st.f_flag & ST_RDONLY))
		err = EROFS; // not on a read-only mount: not a protected copy
	// Still the pidfd's process: the pid was not reused meanwhile.
	else if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		err = errno;
	close(self);
	if (err != 0) {
		close(exe);
		return -err;
	}
	// Reopening through the descriptor keeps its read-only mount.
	snprintf(path, sizeof(path), "/proc/self/fd/%d", exe);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	err = errno;
	close(exe);
	return fd < 0 ? -err : fd;
}

int sbx_clone_for_join(int pidfd, int method, int *used)
{
	if (method == SBX_CLONE_AUTO || method == SBX_CLONE_BIND) {
		int fd = clone_from_process(pidfd);
		if (fd >= 0 || method == SBX_CLONE_BIND) {
			*used = SBX_CLONE_BIND;
			return fd;
		}
	}
	*used = SBX_CLONE_MEMFD;
	return clone_by_memfd();
}

int sbx_binary_protection(void)
{
	// O_NONBLOCK: this runs inside the sandbox, and nothing there may make
	// the open wait (a FIFO put over /proc by a sandbox that may mount).
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	int ret = 0;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && (seals & REQUIRED_SEALS) == REQUIRED_SEALS) {
		ret = SBX_CLONE_MEMFD;
	} else {
		struct statvfs st;
		if (fstatvfs(fd, &st) < 0)
			ret = -errno;
		else if (st.f_flag & ST_RDONLY)
			ret = SBX_CLONE_BIND;
	}
	close(fd);
	return ret;
}
