/*
 * audience_roaring.c
 *		Opens Debian's libroaring privately and fills the table of its
 *		functions (see audience_roaring.h for why).
 *
 * RTLD_LOCAL keeps the library's symbols out of the global scope, so a
 * module loaded later (pg_roaringbitmap) cannot bind to them; RTLD_DEEPBIND
 * makes the library's own calls between its functions bind inside itself,
 * even when a module loaded earlier already exports the same names.
 */
#include "postgres.h"

#include <dlfcn.h>

#include "audience_roaring.h"

/* The SONAME of Debian's libroaring0 package (CRoaring 0.2.x). */
#define ROARING_LIBRARY "libroaring.so.0"

const AudienceRoaring *audience_roaring = NULL;

static AudienceRoaring table;

/* Looks up one function, with an ERROR naming it if it is missing. */
static void *
LookUp(void *handle, const char *name)
{
	void	   *fn = dlsym(handle, name);

	if (fn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not find function \"%s\" in library \"%s\"", name, ROARING_LIBRARY),
				 errhint("Install the libroaring0 package that segment was built against.")));
	return fn;
}

/*
 * Opens the library once per backend.  The handle is never closed: the
 * addresses stay valid for the life of the process, as for any module.
 */
const AudienceRoaring *
audience_roaring_load(void)
{
	void	   *handle;

	if (audience_roaring != NULL)
		return audience_roaring;
	handle = dlopen(ROARING_LIBRARY, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	if (handle == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("could not load library \"%s\"", ROARING_LIBRARY),
				 errdetail("%s", dlerror()),
				 errhint("Install the libroaring0 package that segment was built against.")));
#define AUDIENCE_ROARING_LOOKUP(ret, name, params) \
	table.name = (ret (*) params) LookUp(handle, #name);
	AUDIENCE_ROARING_FUNCTIONS(AUDIENCE_ROARING_LOOKUP)
#undef AUDIENCE_ROARING_LOOKUP
	audience_roaring = &table;
	return audience_roaring;
}
