/*
 * test_rule_paths.c
 *		Unit tests of rule_paths.h: each case is a rule and its nodes in
 *		pre-order as "path=canonical text" lines.  TAP.
 */
#include <stdio.h>
#include <string.h>

#include "rule_parser.h"
#include "rule_paths.h"
#include "rule_print.h"
#include "tap.h"

typedef struct PathCase
{
	const char *rule;
	const char *listing;		/* path=text, one a line */
} PathCase;

static const PathCase cases[] = {
	{"customer.age > 30", "1=customer.age > 30\n"},
	{"exists orders and customer.age > 30",
	 "1=exists orders and customer.age > 30\n1.1=exists orders\n1.2=customer.age > 30\n"},
	/* nested: OR in AND in OR, NOT of a group */
	{"customer.b = 1 or (exists orders and (count(orders) > 2 or not (tag 't' is empty or customer.x = 'y')))",
	 "1=customer.b = 1 or exists orders and (count(orders) > 2 or not (tag 't' is empty or customer.x = 'y'))\n"
	 "1.1=customer.b = 1\n"
	 "1.2=exists orders and (count(orders) > 2 or not (tag 't' is empty or customer.x = 'y'))\n"
	 "1.2.1=exists orders\n"
	 "1.2.2=count(orders) > 2 or not (tag 't' is empty or customer.x = 'y')\n"
	 "1.2.2.1=count(orders) > 2\n"
	 "1.2.2.2=not (tag 't' is empty or customer.x = 'y')\n"
	 "1.2.2.2.1=tag 't' is empty or customer.x = 'y'\n"
	 "1.2.2.2.1.1=tag 't' is empty\n"
	 "1.2.2.2.1.2=customer.x = 'y'\n"},
	/* a sequence is one leaf; filters are part of their predicate */
	{"exists views where url = '/cart' then not exists orders within 1 day and not exists orders where status = 'paid' or amount > 5",
	 "1=exists views where url = '/cart' then not exists orders within 1 day and not exists orders where status = 'paid' or amount > 5\n"
	 "1.1=exists views where url = '/cart' then not exists orders within 1 day\n"
	 "1.2=not exists orders where status = 'paid' or amount > 5\n"
	 "1.2.1=exists orders where status = 'paid' or amount > 5\n"},
	/* ten children: paths are numbers, not digits */
	{"customer.a = 1 and customer.a = 2 and customer.a = 3 and customer.a = 4 and customer.a = 5 and "
	 "customer.a = 6 and customer.a = 7 and customer.a = 8 and customer.a = 9 and (customer.a = 10 or customer.a = 11)",
	 NULL},
	/* Unicode names */
	{"tag '退订标签' not in ('已退订') and not in segment '上海 客户'",
	 "1=tag '退订标签' not in ('已退订') and not in segment '上海 客户'\n"
	 "1.1=tag '退订标签' not in ('已退订')\n"
	 "1.2=not in segment '上海 客户'\n"
	 "1.2.1=in segment '上海 客户'\n"},
};

/* The listing of a rule's nodes; NULL when the walk failed. */
static char *
Listing(const RuleNode *rule, RuleArena *arena, RulePathNode **nodes, int *n)
{
	static char buf[8192];
	size_t		used = 0;
	int			i;

	*nodes = rule_paths(rule, arena, n);
	if (*nodes == NULL)
		return NULL;
	buf[0] = '\0';
	for (i = 0; i < *n; i++)
	{
		char	   *text = rule_print((*nodes)[i].node, arena, NULL);

		used += snprintf(buf + used, sizeof(buf) - used, "%s=%s\n", (*nodes)[i].path, text);
	}
	return buf;
}

int
main(void)
{
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		RuleArena	arena;
		RuleError	err;
		RuleNode   *rule;
		RulePathNode *nodes;
		int			n;
		char	   *listing;

		rule_arena_init_malloc(&arena);
		rule = rule_parse(cases[i].rule, strlen(cases[i].rule), &arena, &err);
		ok(rule != NULL, "parses: %s", cases[i].rule);
		if (rule == NULL)
		{
			rule_arena_destroy(&arena);
			continue;
		}
		listing = Listing(rule, &arena, &nodes, &n);
		ok(listing != NULL && n == rule_paths_count(rule), "walks %d nodes", n);
		if (cases[i].listing)
		{
			ok(listing && strcmp(listing, cases[i].listing) == 0, "paths of %s", cases[i].rule);
			if (listing && strcmp(listing, cases[i].listing) != 0)
				printf("# got:\n%s# want:\n%s", listing, cases[i].listing);
		}
		else
		{
			/* the ten-child AND */
			ok(n == 13, "ten children and a group of two: 13 nodes (%d)", n);
			ok(n == 13 && strcmp(nodes[10].path, "1.10") == 0 && strcmp(nodes[12].path, "1.10.2") == 0 &&
			   nodes[12].parent == 10 && nodes[12].position == 2 && nodes[12].depth == 2 &&
			   nodes[10].nchildren == 2 && nodes[0].parent == -1 && nodes[0].position == 1,
			   "path 1.10 and its second child 1.10.2, with parent, position and depth");
		}
		/* every node's parent comes before it and lists it as child number position */
		{
			int			j;
			bool		good = listing != NULL;

			for (j = 1; good && j < n; j++)
				good = nodes[j].parent >= 0 && nodes[j].parent < j &&
					nodes[nodes[j].parent].node->children[nodes[j].position - 1] == nodes[j].node &&
					nodes[j].depth == nodes[nodes[j].parent].depth + 1;
			ok(good, "parents precede their children and hold them at their positions");
		}
		rule_arena_destroy(&arena);
	}
	/* a tree deeper than the limit is refused, not overflowed */
	{
		RuleArena	arena;
		RuleNode	leaf;
		RuleNode	nots[RULE_MAX_TREE_LEVELS + 2];
		RuleNode   *kids[RULE_MAX_TREE_LEVELS + 2];
		int			k,
					n = -1;

		memset(&leaf, 0, sizeof(leaf));
		leaf.kind = RULE_IN_SEGMENT;
		leaf.name = "x";
		for (k = 0; k < RULE_MAX_TREE_LEVELS + 2; k++)
		{
			memset(&nots[k], 0, sizeof(nots[k]));
			nots[k].kind = RULE_NOT;
			nots[k].nchildren = 1;
			kids[k] = k + 1 < RULE_MAX_TREE_LEVELS + 2 ? &nots[k + 1] : &leaf;
			nots[k].children = &kids[k];
		}
		rule_arena_init_malloc(&arena);
		ok(rule_paths_count(&nots[0]) == -1 && rule_paths(&nots[0], &arena, &n) == NULL && n == 0,
		   "a tree deeper than RULE_MAX_TREE_LEVELS is refused");
		ok(rule_paths_count(&nots[2]) == RULE_MAX_TREE_LEVELS + 1, "one at the limit is walked");
		rule_arena_destroy(&arena);
	}
	return tap_done();
}
