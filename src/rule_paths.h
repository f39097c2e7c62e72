/*
 * rule_paths.h
 *		Pure C: the nodes of a rule tree in depth-first pre-order, each with
 *		its path ("1", "1.2", "1.2.1"), for explain_membership() and
 *		condition_counts() (src/rule_explain.c).
 *
 * The nodes are the boolean structure and its predicates: AND and OR have
 * their children, NOT its one child; every other node is a leaf, a
 * sequence (THEN) included (its steps are one predicate, not conditions of
 * their own), and so are the filters inside aggregates and EXISTS.  The
 * root's path is "1"; the k-th child (from 1, in rule order) of the node
 * at path p has path "p.k".
 */
#ifndef RULE_PATHS_H
#define RULE_PATHS_H

#include <stdbool.h>

#include "rule_arena.h"
#include "rule_ast.h"

typedef struct RulePathNode
{
	const RuleNode *node;
	const char *path;			/* "1.2.1", in the arena */
	int			parent;			/* index of the parent, -1 for the root */
	int			position;		/* 1-based among the parent's children; 1 for
								 * the root */
	int			depth;			/* 0 for the root */
	int			nchildren;		/* of the boolean structure (0 for leaves) */
} RulePathNode;

/* Whether a node has children in the sense above (AND, OR, NOT). */
extern bool rule_path_is_boolean(const RuleNode *node);

/* How many nodes rule_paths() lists. */
extern int	rule_paths_count(const RuleNode *rule);

/*
 * The nodes in pre-order, root first, in an array of the arena (*n
 * entries); NULL when out of memory or the tree is deeper than
 * RULE_MAX_TREE_LEVELS.
 */
extern RulePathNode *rule_paths(const RuleNode *rule, RuleArena *arena, int *n);

#endif							/* RULE_PATHS_H */
