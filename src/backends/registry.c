/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the table of backend drivers. */
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"

extern const struct sb_backend_driver sb_nbd_driver;
#ifdef SB_HAVE_ISCSI
extern const struct sb_backend_driver sb_iscsi_driver;
#endif
extern const struct sb_backend_driver sb_file_driver;

/* Order matters: the file driver takes any spec the others did not claim. */
static const struct sb_backend_driver *const drivers[] = {
	&sb_nbd_driver,
#ifdef SB_HAVE_ISCSI
	&sb_iscsi_driver,
#endif
	&sb_file_driver,
};

int sb_backend_open(struct sb_loop *loop, const char *spec,
		    const struct sb_backend_config *cfg, struct sb_backend **out,
		    struct sb_error **errp)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		if (drivers[i]->match(spec))
			return drivers[i]->open(loop, spec, cfg, out, errp);
	}
	return sb_error_set(errp, "backend '%s': unknown kind of storage", spec);
}
