/*
 * rule_paths.c
 *		Pure C: a rule's nodes in pre-order with their paths (rule_paths.h).
 */
#include "rule_paths.h"

#include <stdio.h>
#include <string.h>

bool
rule_path_is_boolean(const RuleNode *node)
{
	return node->kind == RULE_AND || node->kind == RULE_OR || node->kind == RULE_NOT;
}

static int
Count(const RuleNode *n, int level)
{
	int			total = 1;
	int			i;

	if (level > RULE_MAX_TREE_LEVELS)
		return -1;
	if (rule_path_is_boolean(n))
		for (i = 0; i < n->nchildren; i++)
		{
			int			c = Count(n->children[i], level + 1);

			if (c < 0)
				return -1;
			total += c;
		}
	return total;
}

int
rule_paths_count(const RuleNode *rule)
{
	return Count(rule, 0);
}

typedef struct Walk
{
	RuleArena  *arena;
	RulePathNode *out;
	int			n;
} Walk;

/* Appends node (child number position of parent) and its subtree. */
static bool
Visit(Walk *w, const RuleNode *node, int parent, int position, int depth)
{
	RulePathNode *p = &w->out[w->n];
	int			self = w->n++;
	char		digits[16];
	size_t		plen;
	char	   *path;
	int			i;

	snprintf(digits, sizeof(digits), "%d", position);
	plen = parent < 0 ? 0 : strlen(w->out[parent].path) + 1;
	path = rule_arena_alloc(w->arena, plen + strlen(digits) + 1);
	if (path == NULL)
		return false;
	if (parent >= 0)
	{
		memcpy(path, w->out[parent].path, plen - 1);
		path[plen - 1] = '.';
	}
	memcpy(path + plen, digits, strlen(digits) + 1);
	p->node = node;
	p->path = path;
	p->parent = parent;
	p->position = position;
	p->depth = depth;
	p->nchildren = rule_path_is_boolean(node) ? node->nchildren : 0;
	for (i = 0; i < p->nchildren; i++)
		if (!Visit(w, node->children[i], self, i + 1, depth + 1))
			return false;
	return true;
}

RulePathNode *
rule_paths(const RuleNode *rule, RuleArena *arena, int *n)
{
	int			count = rule_paths_count(rule);
	Walk		w;

	*n = 0;
	if (count < 0)
		return NULL;
	w.arena = arena;
	w.n = 0;
	w.out = rule_arena_alloc(arena, sizeof(RulePathNode) * (size_t) count);
	if (w.out == NULL || !Visit(&w, rule, -1, 1, 0))
		return NULL;
	*n = w.n;
	return w.out;
}
