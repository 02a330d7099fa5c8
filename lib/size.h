/*
 * size — byte sizes in options and config files: "1048576", "512K", "64M",
 * "2G", "1T" (also "KiB", "MiB", "GiB", "TiB", "KB"...; all binary, 1K = 1024).
 */
#ifndef OMNI_SIZE_H
#define OMNI_SIZE_H

/* Parse s into *bytes (0 .. 2^62). Returns 0, or -1 for anything else. */
int omni_size_parse(const char *s, long long *bytes);

#endif
