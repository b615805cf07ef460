/* The floor for namespace discovery: readlink() of every /proc/PID/ns/* link, in C.
 * Prints the number of processes and links read. Built by bench/bench_tasks.py. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    static const char *names[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
                                  "time", "time_for_children", "user", "uts"};
    char path[64], target[64];
    long procs = 0, links = 0;
    DIR *proc = opendir("/proc");
    struct dirent *entry;

    if (!proc)
        return 1;
    while ((entry = readdir(proc))) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9')
            continue;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            snprintf(path, sizeof(path), "/proc/%s/ns/%s", entry->d_name, names[i]);
            if (readlink(path, target, sizeof(target)) > 0)
                links++;
        }
        procs++;
    }
    closedir(proc);
    printf("{\"procs\": %ld, \"links\": %ld}\n", procs, links);
    return 0;
}
