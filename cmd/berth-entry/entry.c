/*
 * berth-entry is what berth-shim has libcontainer execute in a container
 * whose seccomp filter was compiled ahead of time: it loads that filter,
 * gives up the capabilities the shim lent it for the load, and executes the
 * container's command. Compiling Docker's default profile with libseccomp
 * costs tens of milliseconds on every start and exec; loading a compiled
 * program costs microseconds.
 *
 *	berth-entry BPF_FD STATUS_FD EXE_FD FLAGS BND EFF PRM INH AMB -- COMMAND [ARG...]
 *
 * BPF_FD holds the program (struct sock_filter array, as the kernel takes
 * it); STATUS_FD is a pipe the shim reads: closed by a successful execve, or
 * given the error and closed by our exit; EXE_FD is this binary; FLAGS (hex)
 * are seccomp(2)'s filter flags (LOG and SPEC_ALLOW only). BND..AMB are hex
 * masks of the capabilities the shim added to each set so that this process
 * can load the filter without no_new_privs; each is removed exactly, leaving
 * the sets the container's spec asked for. The command is looked up in PATH
 * as libcontainer (Go's os/exec) does, with its exit codes (127 not found,
 * 126 not permitted) and messages, before the filter, as libcontainer does
 * with no_new_privs. Any failure before the execve exits without running the
 * command; a failed execve is reported on stderr with exit code 255, as
 * libcontainer's init reports it.
 *
 * It is C, built static, because it runs once per container start and exec,
 * in any image: a static Go binary spends about a millisecond starting its
 * runtime (threads, signal handlers, heap) before main; this starts in a
 * tenth of that. It uses only system calls and a few libc string functions,
 * and is built against musl where musl-gcc is installed (scripts/
 * build-entry.sh): glibc's static start-up probes the CPU with dozens of
 * CPUID instructions, each a trap to the hypervisor in a VM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1UL << 1)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_LOWER 3
#endif

/* The kernel's BPF_MAXINSNS. */
#define MAX_INSNS 4096

extern char **environ;

static const char usage[] = "usage: berth-entry BPF_FD STATUS_FD EXE_FD FLAGS BND EFF PRM INH AMB -- COMMAND [ARG...]";

static int status_fd = -1;

/* errnos names the errors the system calls here can return as Go's syscall
 * package spells them (glibc's strerror texts, in lower case), whatever libc
 * this is built with: the shim and the daemon pass them on, and match some. */
static const struct {
	int no;
	const char *text;
} errnos[] = {
	{EPERM, "operation not permitted"},
	{ENOENT, "no such file or directory"},
	{ESRCH, "no such process"},
	{EINTR, "interrupted system call"},
	{EIO, "input/output error"},
	{ENXIO, "no such device or address"},
	{E2BIG, "argument list too long"},
	{ENOEXEC, "exec format error"},
	{EBADF, "bad file descriptor"},
	{EAGAIN, "resource temporarily unavailable"},
	{ENOMEM, "cannot allocate memory"},
	{EACCES, "permission denied"},
	{EFAULT, "bad address"},
	{EBUSY, "device or resource busy"},
	{EEXIST, "file exists"},
	{ENODEV, "no such device"},
	{ENOTDIR, "not a directory"},
	{EISDIR, "is a directory"},
	{EINVAL, "invalid argument"},
	{ENFILE, "too many open files in system"},
	{EMFILE, "too many open files"},
	{ETXTBSY, "text file busy"},
	{ENOSPC, "no space left on device"},
	{EROFS, "read-only file system"},
	{ENAMETOOLONG, "file name too long"},
	{ENOSYS, "function not implemented"},
	{ELOOP, "too many levels of symbolic links"},
	{EOVERFLOW, "value too large for defined data type"},
	{ELIBBAD, "accessing a corrupted shared library"},
	{EOPNOTSUPP, "operation not supported"},
};

static void errstr(int err, char *buf, size_t n)
{
	for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++) {
		if (errnos[i].no == err) {
			snprintf(buf, n, "%s", errnos[i].text);
			return;
		}
	}
	snprintf(buf, n, "errno %d", err);
}

/* fail writes the message to the status pipe and exits with code. */
static void __attribute__((noreturn, format(printf, 2, 3))) fail(int code, const char *fmt, ...)
{
	char msg[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof msg - 1)
		n = sizeof msg - 1;
	for (int off = 0; off < n;) {
		ssize_t w = write(status_fd, msg + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += w;
	}
	_exit(code);
}

static void __attribute__((noreturn)) usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "berth-entry: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	_exit(2);
}

static int parse_fd(const char *s, int *out)
{
	long v = 0;
	if (!*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > 1 << 20)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v < 3)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_hex(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s || strlen(s) > 16)
		return -1;
	for (const char *p = s; *p; p++) {
		int d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

/* quote writes s as Go's strconv.Quote does for the names it is given:
 * in double quotes, with \" \\ and control bytes escaped. */
static void quote(const char *s, char *buf, size_t n)
{
	size_t o = 0;
	if (n < 3)
		return;
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 6 < n; p++) {
		switch (*p) {
		case '"':
		case '\\':
			buf[o++] = '\\';
			buf[o++] = *p;
			break;
		case '\n':
			buf[o++] = '\\';
			buf[o++] = 'n';
			break;
		case '\t':
			buf[o++] = '\\';
			buf[o++] = 't';
			break;
		case '\r':
			buf[o++] = '\\';
			buf[o++] = 'r';
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				o += snprintf(buf + o, n - o, "\\x%02x", *p);
			else
				buf[o++] = *p;
		}
	}
	buf[o++] = '"';
	buf[o] = 0;
}

/* clean_path is Go's filepath.Clean, lexically: no symlinks resolved. */
static void clean_path(char *path)
{
	size_t n = strlen(path);
	if (n == 0) {
		strcpy(path, ".");
		return;
	}
	int rooted = path[0] == '/';
	char *out = path; /* writes never overtake reads */
	size_t w = 0, r = 0, dotdot = 0;
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (path[r] == '/') {
			r++;
		} else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
			r++;
		} else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && path[r] != '/'; r++)
				out[w++] = path[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = 0;
}

/* find_executable is Go's os/exec findExecutable: 0, an errno (EISDIR for
 * a directory, EACCES for a file without execute permission), or a negated
 * errno when stat failed. */
static int find_executable(const char *file)
{
	struct stat st;
	if (stat(file, &st) != 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (faccessat(AT_FDCWD, file, X_OK, AT_EACCESS) == 0)
		return 0;
	int err = errno;
	if (err != ENOSYS && err != EPERM)
		return err;
	return (st.st_mode & 0111) ? 0 : EACCES;
}

/* look_path finds the command as Go's exec.LookPath does, or fails with its
 * message and libcontainer's exit code. */
static char *look_path(const char *file)
{
	char q[4200], e[256];
	quote(file, q, sizeof q);
	if (strchr(file, '/')) {
		int err = find_executable(file);
		if (err == 0)
			return strdup(file);
		int no = err < 0 ? -err : err;
		errstr(no, e, sizeof e);
		int code = (no == EACCES || no == EPERM) ? 126 : 127;
		if (err < 0)
			fail(code, "exec: %s: stat %s: %s", q, file, e);
		fail(code, "exec: %s: %s", q, e);
	}
	const char *path = getenv("PATH");
	if (path && *path) {
		const char *p = path;
		for (;;) {
			const char *end = strchr(p, ':');
			size_t dl = end ? (size_t)(end - p) : strlen(p);
			size_t fl = strlen(file);
			char *cand = malloc(dl + fl + 3);
			if (!cand)
				fail(1, "out of memory");
			if (dl == 0) {
				cand[0] = '.';
				dl = 1;
			} else {
				memcpy(cand, p, dl);
			}
			cand[dl] = '/';
			memcpy(cand + dl + 1, file, fl + 1);
			clean_path(cand);
			if (find_executable(cand) == 0) {
				if (cand[0] != '/')
					fail(127, "exec: %s: cannot run executable found relative to current directory", q);
				return cand;
			}
			free(cand);
			if (!end)
				break;
			p = end + 1;
		}
	}
	fail(127, "exec: %s: executable file not found in $PATH", q);
}

/* read_program reads the filter at offsets: the descriptor is shared with
 * every process of the container, whose position must not move. */
static struct sock_filter *read_program(int fd, size_t *count)
{
	static unsigned char buf[MAX_INSNS * 8 + 1];
	size_t len = 0;
	while (len < sizeof buf) {
		ssize_t n = pread(fd, buf + len, sizeof buf - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			char e[256];
			errstr(errno, e, sizeof e);
			fail(1, "reading seccomp program: read bpf: %s", e);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0 || len % 8 != 0 || len > MAX_INSNS * 8)
		fail(1, "seccomp program of %zu bytes", len);
	*count = len / 8;
	struct sock_filter *prog = calloc(*count, sizeof *prog);
	if (!prog)
		fail(1, "out of memory");
	for (size_t i = 0; i < *count; i++) {
		const unsigned char *b = buf + i * 8;
		prog[i].code = (uint16_t)(b[0] | b[1] << 8);
		prog[i].jt = b[2];
		prog[i].jf = b[3];
		prog[i].k = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
	}
	return prog;
}

static void load_filter(struct sock_filter *prog, size_t count, uint64_t flags)
{
	struct sock_fprog fprog = {.len = (unsigned short)count, .filter = prog};
	long r;
	if (flags == 0)
		r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
	else
		r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned long)flags, &fprog);
	if (r != 0) {
		char e[256];
		errstr(errno, e, sizeof e);
		fail(1, "loading seccomp filter: %s", e);
	}
}

static int capget3(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	return (int)syscall(SYS_capget, &hdr, data);
}

static int capset3(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	return (int)syscall(SYS_capset, &hdr, data);
}

/* return_caps removes the lent capabilities from each set and checks they
 * are gone. The bounding set is lowered first, while CAP_SETPCAP (possibly
 * lent too) is still effective, and CAP_SETPCAP last. */
static void return_caps(const uint64_t m[5])
{
	uint64_t bnd = m[0], eff = m[1], prm = m[2], inh = m[3], amb = m[4];
	char e[256];
	for (int c = 0; c < 64; c++) {
		if ((amb >> c & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, c, 0, 0) != 0) {
			errstr(errno, e, sizeof e);
			fail(1, "lowering ambient capability %d: %s", c, e);
		}
	}
	for (int c = 0; c < 64; c++) {
		if ((bnd >> c & 1) && c != CAP_SETPCAP && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) {
			errstr(errno, e, sizeof e);
			fail(1, "dropping bounding capability %d: %s", c, e);
		}
	}
	if ((bnd >> CAP_SETPCAP & 1) && prctl(PR_CAPBSET_DROP, CAP_SETPCAP, 0, 0, 0) != 0) {
		errstr(errno, e, sizeof e);
		fail(1, "dropping bounding capability %d: %s", CAP_SETPCAP, e);
	}
	struct __user_cap_data_struct data[2];
	if (capget3(data) != 0) {
		errstr(errno, e, sizeof e);
		fail(1, "capget: %s", e);
	}
	for (int i = 0; i < 2; i++) {
		data[i].effective &= ~(uint32_t)(eff >> (32 * i));
		data[i].permitted &= ~(uint32_t)(prm >> (32 * i));
		data[i].inheritable &= ~(uint32_t)(inh >> (32 * i));
	}
	if (capset3(data) != 0) {
		errstr(errno, e, sizeof e);
		fail(1, "capset: %s", e);
	}
	/* Trust, but verify: the command must not inherit a lent capability. */
	if (capget3(data) != 0) {
		errstr(errno, e, sizeof e);
		fail(1, "capget: %s", e);
	}
	for (int i = 0; i < 2; i++) {
		if ((data[i].effective & (uint32_t)(eff >> (32 * i))) || (data[i].permitted & (uint32_t)(prm >> (32 * i))) ||
		    (data[i].inheritable & (uint32_t)(inh >> (32 * i))))
			fail(1, "lent capabilities are still held");
	}
	for (int c = 0; c < 64; c++) {
		if ((bnd >> c & 1) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 0)
			fail(1, "capability %d is still in the bounding set", c);
		if ((amb >> c & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) != 0)
			fail(1, "capability %d is still ambient", c);
	}
}

int main(int argc, char **argv)
{
	int bpf_fd, exe_fd;
	uint64_t flags, masks[5];
	if (argc < 12 || strcmp(argv[10], "--") != 0) {
		fprintf(stderr, "berth-entry: %s\n", usage);
		return 2;
	}
	int *fds[] = {&bpf_fd, &status_fd, &exe_fd};
	for (int i = 0; i < 3; i++)
		if (parse_fd(argv[1 + i], fds[i]) != 0)
			usage_error("bad fd \"%s\"", argv[1 + i]);
	if (parse_hex(argv[4], &flags) != 0)
		usage_error("bad mask \"%s\"", argv[4]);
	for (int i = 0; i < 5; i++)
		if (parse_hex(argv[5 + i], &masks[i]) != 0)
			usage_error("bad mask \"%s\"", argv[5 + i]);
	if (flags & ~(uint64_t)(SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW)) {
		fprintf(stderr, "berth-entry: unsupported seccomp flags %#llx\n", (unsigned long long)flags);
		return 2;
	}
	char **args = argv + 11;

	char e[256];
	/* Nobody else in the container may look into this process while it
	 * holds the lent capabilities; execve resets this as usual. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		errstr(errno, e, sizeof e);
		fail(1, "prctl(PR_SET_DUMPABLE): %s", e);
	}
	for (int i = 0; i < 3; i++)
		fcntl(*fds[i], F_SETFD, FD_CLOEXEC);
	char *name = look_path(args[0]);
	size_t count;
	struct sock_filter *prog = read_program(bpf_fd, &count);
	load_filter(prog, count, flags);
	return_caps(masks);
	close(bpf_fd);
	close(exe_fd);
	execve(name, args, environ);
	errstr(errno, e, sizeof e);
	fprintf(stderr, "exec %s: %s\n", name, e);
	return 255;
}
