/*
 * rule_compile.h
 *		Compiles a rule into one SQL query that returns its audience.
 */
#ifndef RULE_COMPILE_H
#define RULE_COMPILE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "rule_ast.h"

extern char *rule_compile_sql(const RuleNode *rule, TimestampTz as_of);

#endif							/* RULE_COMPILE_H */
