/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the main of a harness built without libFuzzer: runs
 * LLVMFuzzerTestOneInput on every file named, or in the directories named
 * (sorted; with no argument, the harness's checked-in corpus), and writes
 * one TAP line per file, so tests/run.sh counts them like cmocka cases.
 * A crash ends the run (a sanitizer report says which file: the line
 * before it). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static unsigned ran, failed;

/* "corpus/FILE" of a path: short TAP lines, the same from any build. */
static const char *short_name(const char *path)
{
	const char *end = strrchr(path, '/'), *p = end;

	if (!end)
		return path;
	while (p > path && p[-1] != '/')
		p--;
	return p;
}

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		printf("not ok %u - %s: %s\n", ++ran, short_name(path), strerror(errno));
		failed++;
		return;
	}
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			if (!(data = realloc(data, cap))) {
				fprintf(stderr, "out of memory\n");
				exit(1);
			}
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	fprintf(stderr, "# running %s (%zu bytes)\n", path, len);
	fflush(stderr);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	printf("ok %u - %s\n", ++ran, short_name(path));
	fflush(stdout);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void replay(const char *path)
{
	struct dirent **names;
	struct stat st;
	int n;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	n = scandir(path, &names, NULL, by_name);
	if (n < 0) {
		printf("not ok %u - %s: %s\n", ++ran, path, strerror(errno));
		failed++;
		return;
	}
	for (int i = 0; i < n; i++) {
		char file[4096];

		if (names[i]->d_name[0] != '.') {
			snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
			if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
				replay_file(file);
		}
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		replay(FUZZ_CORPUS);
	} else {
		for (int i = 1; i < argc; i++)
			replay(argv[i]);
	}
	printf("1..%u\n", ran);
	if (ran == 0) {
		fprintf(stderr, "no input to replay\n");
		return 1;
	}
	return failed ? 1 : 0;
}
