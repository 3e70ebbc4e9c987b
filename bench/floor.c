// The floor of `run /bin/true`: the kernel work any runtime must do for the benchmark's bundle,
// with nothing else (no config parsing, no state, no checks, no sync beyond one wait).
//
//   floor ROOTFS CGROUP [PHASES_FILE]
//
// Makes cgroup CGROUP (an absolute cgroupsPath) in every hierarchy of /proc/self/mountinfo,
// clones into new mount, PID, network, IPC and UTS namespaces (on cgroup v2: born in the cgroup,
// CLONE_INTO_CGROUP; on v1: the child writes "0" to each `tasks`), makes runc spec's mounts
// (proc, /dev tmpfs, devpts, shm, mqueue, sysfs, the cgroup mount), six device nodes and the
// /dev links, pivot_root, runc spec's masked and read-only paths, the read-only root, the
// hostname, the capability bounding set, no_new_privs and RLIMIT_NOFILE, then execs /bin/true;
// waits for it and removes the cgroups. Exits with the container's status.
// With PHASES_FILE, appends one line of phase timestamps (ns since the start) to it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXH 16
static char hier[MAXH][256]; // hierarchy mount points
static int hier_v2[MAXH];
static int nhier;
static char cgdir[MAXH][512];
static int tasks_fd[MAXH];
static const char *rootfs;

enum { T_START, T_CGROUP, T_CHILD, T_MOUNTS, T_PIVOT, T_EXEC, T_EXITED, T_END, T_N };
static uint64_t *ts; // shared with the child

static uint64_t now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

static void die(const char *what, const char *arg) {
    fprintf(stderr, "floor: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
    _exit(125);
}

static void read_hierarchies(void) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f) die("open", "/proc/self/mountinfo");
    char line[4096];
    while (fgets(line, sizeof line, f) && nhier < MAXH) {
        char root[256], point[256];
        if (sscanf(line, "%*s %*s %*s %255s %255s", root, point) != 2) continue;
        char *sep = strstr(line, " - ");
        if (!sep || strcmp(root, "/") != 0) continue;
        int v2 = strncmp(sep + 3, "cgroup2 ", 8) == 0;
        if (!v2 && strncmp(sep + 3, "cgroup ", 7) != 0) continue;
        // A v2 mount with no free controller (a hybrid host's unified) still holds the process.
        strcpy(hier[nhier], point);
        hier_v2[nhier++] = v2;
    }
    fclose(f);
}

// A v1 cpuset cgroup starts with no CPUs and no memory nodes: copy its parent's.
static void copy_cpuset(const char *path) {
    static const char *files[] = {"cpuset.cpus", "cpuset.mems"};
    char f[700], val[256];
    for (int i = 0; i < 2; i++) {
        snprintf(f, sizeof f, "%s/../%s", path, files[i]);
        int fd = open(f, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, val, sizeof val);
        if (n <= 0) die("read", f);
        close(fd);
        snprintf(f, sizeof f, "%s/%s", path, files[i]);
        fd = open(f, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, val, n) != n) die("write", f);
        close(fd);
    }
}

static void mkdir_one(char *path, int cpuset) {
    if (mkdir(path, 0755) == 0) {
        if (cpuset) copy_cpuset(path);
    } else if (errno != EEXIST) {
        die("mkdir", path);
    }
}

static void mkdir_p(char *path, int from, int cpuset) {
    for (char *p = path + from + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir_one(path, cpuset);
        *p = '/';
    }
    mkdir_one(path, cpuset);
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags,
                const char *data) {
    if (mount(src, dst, type, flags, data) < 0) die("mount", dst);
}

static void bind_ro(const char *path, unsigned long extra) {
    mnt(path, path, NULL, MS_BIND | MS_REC, NULL);
    mnt(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | extra, NULL);
}

static int child(void *arg) {
    (void)arg;
    ts[T_CHILD] = now();
    char buf[1024];
    for (int i = 0; i < nhier; i++)
        if (tasks_fd[i] >= 0 && write(tasks_fd[i], "0", 1) != 1) die("join cgroup", cgdir[i]);
    mnt(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL);
    mnt(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL);
    if (chdir(rootfs) < 0) die("chdir", rootfs);
    mnt("proc", "proc", "proc", 0, NULL);
    mnt("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    mkdir("dev/pts", 0755);
    mnt("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620,gid=5");
    mkdir("dev/shm", 0755);
    mnt("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k");
    mkdir("dev/mqueue", 0755);
    mnt("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
    mnt("sysfs", "sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL);
    unsigned long cgflags = MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY;
    if (nhier == 1 && hier_v2[0]) {
        mnt(hier[0], "sys/fs/cgroup", NULL, MS_BIND, NULL);
        mnt(NULL, "sys/fs/cgroup", NULL, MS_BIND | MS_REMOUNT | cgflags, NULL);
    } else {
        mnt("tmpfs", "sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=755");
        for (int i = 0; i < nhier; i++) {
            const char *name = strrchr(hier[i], '/') + 1;
            snprintf(buf, sizeof buf, "sys/fs/cgroup/%s", name);
            mkdir(buf, 0755);
            mnt(cgdir[i], buf, NULL, MS_BIND, NULL);
            mnt(NULL, buf, NULL, MS_BIND | MS_REMOUNT | cgflags, NULL);
        }
        mnt(NULL, "sys/fs/cgroup", NULL, MS_REMOUNT | MS_RDONLY | cgflags, NULL);
    }
    static const struct { const char *name; unsigned maj, min; } devs[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
        {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
    };
    for (unsigned i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        snprintf(buf, sizeof buf, "dev/%s", devs[i].name);
        if (mknod(buf, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)) < 0) die("mknod", buf);
    }
    symlink("/proc/self/fd", "dev/fd");
    symlink("/proc/self/fd/0", "dev/stdin");
    symlink("/proc/self/fd/1", "dev/stdout");
    symlink("/proc/self/fd/2", "dev/stderr");
    symlink("pts/ptmx", "dev/ptmx");
    ts[T_MOUNTS] = now();

    if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root", rootfs);
    if (umount2(".", MNT_DETACH) < 0) die("umount", "old root");
    if (chdir("/") < 0) die("chdir", "/");
    ts[T_PIVOT] = now();

    static const char *masked[] = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                                   "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                                   "/proc/sched_debug", "/sys/firmware", "/proc/scsi"};
    for (unsigned i = 0; i < sizeof masked / sizeof masked[0]; i++) {
        struct stat st;
        if (stat(masked[i], &st) < 0) continue;
        if (S_ISDIR(st.st_mode))
            mnt("tmpfs", masked[i], "tmpfs", MS_RDONLY, NULL);
        else
            mnt("/dev/null", masked[i], NULL, MS_BIND, NULL);
    }
    static const char *ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                               "/proc/sysrq-trigger"};
    for (unsigned i = 0; i < sizeof ro / sizeof ro[0]; i++)
        if (access(ro[i], F_OK) == 0) bind_ro(ro[i], 0);
    mnt(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
    if (sethostname("bench", 5) < 0) die("sethostname", "bench");
    struct rlimit rl = {1024, 1024};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit", "RLIMIT_NOFILE");
    // runc spec's capabilities: AUDIT_WRITE, KILL, NET_BIND_SERVICE in every set but ambient.
    uint64_t keep = (1ull << CAP_AUDIT_WRITE) | (1ull << CAP_KILL) | (1ull << CAP_NET_BIND_SERVICE);
    for (int c = 0; c <= CAP_LAST_CAP; c++)
        if (!(keep >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) die("capbset", "");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs", "");
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{(uint32_t)keep, (uint32_t)keep, (uint32_t)keep},
                                          {0, 0, 0}};
    if (syscall(SYS_capset, &h, d) < 0) die("capset", "");
    ts[T_EXEC] = now();
    char *argv[] = {"/bin/true", NULL};
    char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    execve(argv[0], argv, envp);
    die("exec", argv[0]);
    return 127;
}

int main(int argc, char **argv) {
    if (argc < 3 || argv[2][0] != '/') {
        fprintf(stderr, "usage: floor ROOTFS /CGROUP [PHASES_FILE]\n");
        return 2;
    }
    ts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ts == MAP_FAILED) die("mmap", "");
    ts[T_START] = now();
    rootfs = argv[1];
    read_hierarchies();
    int v2_fd = -1;
    for (int i = 0; i < nhier; i++) {
        snprintf(cgdir[i], sizeof cgdir[i], "%s%s", hier[i], argv[2]);
        mkdir_p(cgdir[i], strlen(hier[i]), !hier_v2[i] && strstr(hier[i], "cpuset"));
        tasks_fd[i] = -1;
        if (hier_v2[i]) {
            v2_fd = open(cgdir[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (v2_fd < 0) die("open", cgdir[i]);
        } else {
            char t[600];
            snprintf(t, sizeof t, "%s/tasks", cgdir[i]);
            tasks_fd[i] = open(t, O_WRONLY | O_CLOEXEC);
            if (tasks_fd[i] < 0) die("open", t);
        }
    }
    ts[T_CGROUP] = now();
    struct clone_args ca = {
        .flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS,
        .exit_signal = SIGCHLD,
    };
    if (v2_fd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = v2_fd;
    }
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0) die("clone3", "");
    if (pid == 0) _exit(child(NULL));
    int status;
    if (waitpid(pid, &status, 0) < 0) die("waitpid", "");
    ts[T_EXITED] = now();
    for (int i = nhier - 1; i >= 0; i--)
        if (rmdir(cgdir[i]) < 0) die("rmdir", cgdir[i]);
    ts[T_END] = now();
    if (argc > 3) {
        FILE *f = fopen(argv[3], "a");
        if (!f) die("open", argv[3]);
        for (int i = 1; i < T_N; i++) fprintf(f, "%s%llu", i > 1 ? " " : "", (unsigned long long)(ts[i] - ts[T_START]));
        fprintf(f, "\n");
        fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
