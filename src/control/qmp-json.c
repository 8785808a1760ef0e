/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: QMP argument checking and reading, and small JSON builders.
 *
 * QMP checks a command's arguments before running it: an unknown member, a
 * missing one or a wrong type is an error and the command has no effect.
 * Commands declare their arguments in the table (qmp-commands.c); this file
 * enforces the declaration and reads the values.
 */
#include <string.h>

#include "base/loop.h"
#include "base/parse.h"
#include "control/qmp-internal.h"

static const struct sb_qmp_arg *spec_find(const struct sb_qmp_arg *spec, const char *name)
{
	for (; spec && spec->name; spec++)
		if (strcmp(spec->name, name) == 0)
			return spec;
	return NULL;
}

static bool type_ok(enum sb_qmp_arg_type type, json_t *v)
{
	size_t i;
	json_t *e;

	switch (type) {
	case SB_QMP_STR:
		return json_is_string(v);
	case SB_QMP_BOOL:
		return json_is_boolean(v);
	case SB_QMP_UINT:
		return json_is_integer(v);
	case SB_QMP_NUMBER:
		return json_is_number(v);
	case SB_QMP_DURATION:
		return json_is_number(v) || json_is_string(v);
	case SB_QMP_SIZE:
		return json_is_integer(v) || json_is_string(v);
	case SB_QMP_STR_LIST:
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, e)
			if (!json_is_string(e))
				return false;
		return true;
	}
	return false;
}

static const char *type_name(enum sb_qmp_arg_type type)
{
	switch (type) {
	case SB_QMP_STR: return "string";
	case SB_QMP_BOOL: return "boolean";
	case SB_QMP_UINT: return "integer";
	case SB_QMP_NUMBER: return "number";
	case SB_QMP_DURATION: return "number (milliseconds) or duration string";
	case SB_QMP_SIZE: return "integer (bytes) or size string";
	case SB_QMP_STR_LIST: return "array of strings";
	}
	return "?";
}

int sb_qmp_args_check(const struct sb_qmp_arg *spec, json_t *args, struct sb_error **errp)
{
	const struct sb_qmp_arg *a;
	const char *key;
	json_t *v;

	json_object_foreach(args, key, v) {
		if (!(a = spec_find(spec, key)))
			return sb_error_set(errp, "Parameter '%s' is unexpected", key);
		if (!type_ok(a->type, v))
			return sb_error_set(errp, "Invalid parameter type for '%s', expected: %s",
					    key, type_name(a->type));
	}
	for (a = spec; a && a->name; a++)
		if (a->required && !json_object_get(args, a->name))
			return sb_error_set(errp, "Parameter '%s' is missing", a->name);
	return 0;
}

const char *sb_qmp_arg_str(json_t *args, const char *name)
{
	return json_string_value(json_object_get(args, name));
}

bool sb_qmp_arg_bool(json_t *args, const char *name, bool dflt)
{
	json_t *v = json_object_get(args, name);

	return v ? json_is_true(v) : dflt;
}

int sb_qmp_arg_uint(json_t *args, const char *name, uint64_t max, uint64_t *out,
		    struct sb_error **errp)
{
	json_t *v = json_object_get(args, name);
	json_int_t i;

	if (!v)
		return 0;
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > max)
		return sb_error_set(errp, "Parameter '%s' must be between 0 and %llu",
				    name, (unsigned long long)max);
	*out = (uint64_t)i;
	return 0;
}

int sb_qmp_arg_number(json_t *args, const char *name, double min, double max, double *out,
		      struct sb_error **errp)
{
	json_t *v = json_object_get(args, name);
	double d;

	if (!v)
		return 0;
	d = json_number_value(v);
	if (!(d >= min && d <= max))
		return sb_error_set(errp, "Parameter '%s' must be between %g and %g", name, min, max);
	*out = d;
	return 0;
}

int sb_qmp_arg_duration(json_t *args, const char *name, uint64_t *ns, struct sb_error **errp)
{
	json_t *v = json_object_get(args, name);

	if (!v)
		return 0;
	if (json_is_string(v)) {
		if (sb_parse_duration(json_string_value(v), ns, errp) < 0) {
			sb_error_prefix(errp ? *errp : NULL, "Parameter '%s'", name);
			return -1;
		}
		return 0;
	}
	/* A number is milliseconds; a year is far more than any sane delay. */
	double ms = json_number_value(v);
	if (!(ms >= 0 && ms <= 365.0 * 24 * 3600 * 1000))
		return sb_error_set(errp, "Parameter '%s' must be between 0 and one year", name);
	*ns = (uint64_t)(ms * (double)SB_NS_PER_MS + 0.5);
	return 0;
}

int sb_qmp_arg_size(json_t *args, const char *name, uint64_t *bytes, struct sb_error **errp)
{
	json_t *v = json_object_get(args, name);

	if (!v)
		return 0;
	if (json_is_string(v)) {
		if (sb_parse_size(json_string_value(v), bytes, errp) < 0) {
			sb_error_prefix(errp ? *errp : NULL, "Parameter '%s'", name);
			return -1;
		}
		return 0;
	}
	return sb_qmp_arg_uint(args, name, INT64_MAX, bytes, errp);
}

json_t *sb_qmp_uint(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

json_t *sb_qmp_ms(uint64_t ns)
{
	return sb_qmp_uint(ns / SB_NS_PER_MS);
}

json_t *sb_qmp_errno(int err)
{
	return err ? json_string(sb_errno_name(err)) : json_null();
}
