/*
 * rule_arena.c
 *		Bump allocator over caller-supplied blocks (see rule_arena.h).
 */
#include "rule_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Every allocation is rounded to this; enough for int64, double, pointers. */
#define RULE_ARENA_ALIGN	16

/* Ordinary block size; larger requests get a block of their own. */
#define RULE_ARENA_BLOCK	8192

/* Refuse single requests above this (1 GB), so size arithmetic never wraps. */
#define RULE_ARENA_MAX_REQUEST	((size_t) 1 << 30)

struct RuleArenaBlock
{
	RuleArenaBlock *next;
	size_t		size;			/* usable bytes after the header */
	size_t		used;
};

/* The header padded so that the data after it stays aligned. */
#define BLOCK_HEADER \
	((sizeof(RuleArenaBlock) + RULE_ARENA_ALIGN - 1) & ~(size_t) (RULE_ARENA_ALIGN - 1))

/* malloc adapter: the default block source of tests and the fuzzer. */
static void *
arena_malloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size);
}

/* free adapter matching arena_malloc. */
static void
arena_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

/* Sets up an arena over the caller's allocator. */
void
rule_arena_init(RuleArena *arena, RuleAllocFunc alloc, RuleFreeFunc free_fn,
				void *ctx)
{
	arena->alloc = alloc;
	arena->free = free_fn;
	arena->ctx = ctx;
	arena->blocks = NULL;
	arena->total = 0;
}

/* Sets up an arena that owns malloc'ed blocks. */
void
rule_arena_init_malloc(RuleArena *arena)
{
	rule_arena_init(arena, arena_malloc, arena_free, NULL);
}

/* Gives every block back, if the arena owns them, and empties the arena. */
void
rule_arena_destroy(RuleArena *arena)
{
	RuleArenaBlock *b = arena->blocks;

	while (b != NULL)
	{
		RuleArenaBlock *next = b->next;

		if (arena->free != NULL)
			arena->free(arena->ctx, b);
		b = next;
	}
	arena->blocks = NULL;
	arena->total = 0;
}

/* Obtains a block with at least size usable bytes and links it in. */
static RuleArenaBlock *
arena_new_block(RuleArena *arena, size_t size)
{
	RuleArenaBlock *b;

	b = arena->alloc(arena->ctx, BLOCK_HEADER + size);
	if (b == NULL)
		return NULL;
	b->size = size;
	b->used = 0;
	b->next = arena->blocks;
	arena->blocks = b;
	arena->total += BLOCK_HEADER + size;
	return b;
}

/* Carves zeroed, aligned memory out of the newest block or a fresh one. */
void *
rule_arena_alloc(RuleArena *arena, size_t size)
{
	RuleArenaBlock *b = arena->blocks;
	char	   *p;

	if (size > RULE_ARENA_MAX_REQUEST)
		return NULL;
	size = (size + RULE_ARENA_ALIGN - 1) & ~(size_t) (RULE_ARENA_ALIGN - 1);
	if (size == 0)
		size = RULE_ARENA_ALIGN;

	if (b == NULL || b->size - b->used < size)
	{
		/* big requests get their own block so the current one is not wasted */
		if (size > RULE_ARENA_BLOCK / 4)
		{
			RuleArenaBlock *own = arena_new_block(arena, size);

			if (own == NULL)
				return NULL;
			/* keep filling the previous block: move the new one behind it */
			if (b != NULL)
			{
				arena->blocks = b;
				own->next = b->next;
				b->next = own;
			}
			own->used = size;
			p = (char *) own + BLOCK_HEADER;
			memset(p, 0, size);
			return p;
		}
		b = arena_new_block(arena, RULE_ARENA_BLOCK);
		if (b == NULL)
			return NULL;
	}
	p = (char *) b + BLOCK_HEADER + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

/* NUL-terminated copy of a byte range. */
char *
rule_arena_strndup(RuleArena *arena, const char *s, size_t len)
{
	char	   *p;

	if (len >= RULE_ARENA_MAX_REQUEST)
		return NULL;
	p = rule_arena_alloc(arena, len + 1);
	if (p == NULL)
		return NULL;
	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
