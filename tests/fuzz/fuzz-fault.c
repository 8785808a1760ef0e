/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: fuzzes the fault filter's parsers (backends/fault.c): the
 * input is a trigger file.  Each of its lines goes through
 * sb_fault_parse_rule; a rule that parses must come back the same from
 * the line sb_fault_format_rule writes for it (query-faults and the log
 * show that line, and a script may feed it back).  Then the whole input
 * is written as the trigger file of a fault filter over a stub backend,
 * which reads and parses it as the daemon does at start. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/fault.h"
#include "base/loop.h"
#include "fuzz.h"
#include "stub-backend.h"

static void check_line(const char *line)
{
	SB_AUTOERR struct sb_error *err = NULL;
	struct sb_fault_rule r, back;
	enum sb_op op, op_back;
	char buf[512];

	if (sb_fault_parse_rule(line, &op, &r, &err) < 0) {
		if (!err)
			fuzz_fail("a refused rule without an error");
		return;
	}
	sb_fault_format_rule(op, &r, buf, sizeof(buf));
	if (sb_fault_parse_rule(buf, &op_back, &back, &err) < 0)
		fuzz_fail("rule '%s' is written '%s', which does not parse: %s", line, buf,
			  err->msg);
	if (op_back != op || back.enabled != r.enabled || back.err != r.err ||
	    back.rate_ppm != r.rate_ppm || back.offset_start != r.offset_start ||
	    back.offset_end != r.offset_end)
		fuzz_fail("rule '%s' is written '%s', which reads back differently", line, buf);
}

static void check_file(const uint8_t *data, size_t size)
{
	struct sb_error *err = NULL;
	struct sb_backend *be;
	struct sb_loop *loop = sb_loop_new();
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/faults", fuzz_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		fuzz_fail("cannot write %s", path);
	close(fd);
	if (sb_fault_wrap(loop, &stub_new(loop)->be, path, &be, &err) < 0)
		fuzz_fail("sb_fault_wrap: %s", err->msg);
	if (!sb_fault_trigger_active(sb_fault_from_backend(be)))
		fuzz_fail("the trigger file exists but is not in force");
	sb_backend_close(be);
	sb_loop_free(loop);
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line, *save = NULL;
	int fds;

	fuzz_init();
	if (!text)
		return 0;
	fds = fuzz_count_fds();
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		check_line(line);
	free(text);
	check_file(data, size);
	fuzz_check_fds(fds, "fault");
	return 0;
}
