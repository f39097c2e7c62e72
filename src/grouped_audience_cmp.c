/*
 * grouped_audience_cmp.c
 *		The comparison of grouped_audience_agg() (grouped_audience_agg.c)
 *		in SQL's three-valued logic.  Pure C: the caller compares values.
 */
#include <stddef.h>

#include "grouped_audience_agg.h"

/*
 * The truth of "value op args" in SQL's three-valued logic, from the
 * signs of value versus each argument (cmp(ctx, i)); pure C.
 */
GaTruth
ga_compare(GaOp op, bool vnull, int nargs, const bool *argnulls,
		   int (*cmp) (void *ctx, int i), void *ctx)
{
	int			i;
	bool		unknown = false;

	if (op == GA_OP_IS_NULL)
		return vnull ? GA_TRUE : GA_FALSE;
	if (op == GA_OP_IS_NOT_NULL)
		return vnull ? GA_FALSE : GA_TRUE;
	if (vnull)
		return GA_UNKNOWN;
	switch (op)
	{
		case GA_OP_IN:
		case GA_OP_NOT_IN:
			for (i = 0; i < nargs; i++)
			{
				if (argnulls[i])
					unknown = true;
				else if (cmp(ctx, i) == 0)
					return op == GA_OP_IN ? GA_TRUE : GA_FALSE;
			}
			if (unknown)
				return GA_UNKNOWN;
			return op == GA_OP_IN ? GA_FALSE : GA_TRUE;
		case GA_OP_BETWEEN:
		case GA_OP_NOT_BETWEEN:
			{
				/* lo <= v AND v <= hi, each side possibly unknown */
				GaTruth lo = argnulls[0] ? GA_UNKNOWN : cmp(ctx, 0) >= 0 ? GA_TRUE : GA_FALSE;
				GaTruth hi = argnulls[1] ? GA_UNKNOWN : cmp(ctx, 1) <= 0 ? GA_TRUE : GA_FALSE;
				GaTruth both = (lo == GA_FALSE || hi == GA_FALSE) ? GA_FALSE :
				(lo == GA_UNKNOWN || hi == GA_UNKNOWN) ? GA_UNKNOWN : GA_TRUE;

				if (op == GA_OP_BETWEEN || both == GA_UNKNOWN)
					return both;
				return both == GA_TRUE ? GA_FALSE : GA_TRUE;
			}
		default:
			{
				int			c;

				if (argnulls[0])
					return GA_UNKNOWN;
				c = cmp(ctx, 0);
				switch (op)
				{
					case GA_OP_EQ:
						return c == 0 ? GA_TRUE : GA_FALSE;
					case GA_OP_NE:
						return c != 0 ? GA_TRUE : GA_FALSE;
					case GA_OP_LT:
						return c < 0 ? GA_TRUE : GA_FALSE;
					case GA_OP_LE:
						return c <= 0 ? GA_TRUE : GA_FALSE;
					case GA_OP_GT:
						return c > 0 ? GA_TRUE : GA_FALSE;
					default:
						return c >= 0 ? GA_TRUE : GA_FALSE;
				}
			}
	}
}
