/*
 * rule_compile.h
 *		Compiles a rule into one SQL query that returns its audience.
 */
#ifndef RULE_COMPILE_H
#define RULE_COMPILE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "rule_ast.h"

/*
 * among: the query takes an audience of candidate customers as $1 and every
 * scan is restricted to them, so the result is the rule's audience & $1.
 */
extern char *rule_compile_sql(const RuleNode *rule, TimestampTz as_of, bool among);

#endif							/* RULE_COMPILE_H */
