/*
 * rule_arena.h
 *		Region allocator for the segment_rule core (lexer, parser, printer,
 *		serializer).  Everything a parse or deserialization creates lives in
 *		one arena and is released at once, so error paths never have to free
 *		anything piecemeal.
 *
 * The arena takes big blocks from a caller-supplied allocator and carves
 * them up.  Two ways to set it up:
 *
 *	- rule_arena_init_malloc(): blocks come from malloc and
 *	  rule_arena_destroy() frees them all (unit tests, fuzzing);
 *	- rule_arena_init(a, alloc, free, ctx): blocks come from alloc(ctx, n).
 *	  The PostgreSQL glue passes a palloc-based alloc and free = NULL: the
 *	  memory then belongs to the current memory context and
 *	  rule_arena_destroy() only forgets it.
 *
 * alloc may return NULL (the core then fails with RULE_ERR_OUT_OF_MEMORY) or
 * never return (palloc's ereport); the core holds no other resources, so
 * unwinding through it with longjmp leaks nothing a memory context does not
 * reclaim.
 */
#ifndef RULE_ARENA_H
#define RULE_ARENA_H

#include <stddef.h>

typedef void *(*RuleAllocFunc) (void *ctx, size_t size);
typedef void (*RuleFreeFunc) (void *ctx, void *ptr);

typedef struct RuleArenaBlock RuleArenaBlock;

typedef struct RuleArena
{
	RuleAllocFunc alloc;		/* block source */
	RuleFreeFunc free;			/* NULL: blocks are owned by someone else */
	void	   *ctx;			/* passed to alloc and free */
	RuleArenaBlock *blocks;		/* newest first */
	size_t		total;			/* bytes obtained from alloc so far */
} RuleArena;

/* Arena over a caller's allocator; free may be NULL (see above). */
extern void rule_arena_init(RuleArena *arena, RuleAllocFunc alloc,
							RuleFreeFunc free, void *ctx);

/* Arena over malloc/free; pair with rule_arena_destroy(). */
extern void rule_arena_init_malloc(RuleArena *arena);

/* Releases every block (when the arena owns them); the arena is reusable. */
extern void rule_arena_destroy(RuleArena *arena);

/*
 * Zero-filled memory aligned for any scalar type, or NULL when the
 * allocator fails or size is absurd.  Lives until rule_arena_destroy().
 */
extern void *rule_arena_alloc(RuleArena *arena, size_t size);

/* Copies len bytes and appends a NUL; NULL when out of memory. */
extern char *rule_arena_strndup(RuleArena *arena, const char *s, size_t len);

#endif							/* RULE_ARENA_H */
