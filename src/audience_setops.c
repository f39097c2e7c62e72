/*
 * audience_setops.c
 *		Set operations and their cardinalities computed on the stored
 *		(portable) form of two audiences, without decoding either into
 *		CRoaring's structures.
 *
 * Decoding a multi-megabyte audience means one malloc and one copy per
 * container, and serializing the result means another pass and another
 * copy; profiles of a | b in a warm backend had the set operation itself at
 * a fraction of the time.  Here the two inputs are walked container by
 * container in key order:
 *
 *	- a container whose key is in one input only is copied byte for byte
 *	  (or dropped, as the operation says);
 *	- two containers of the same key are combined: two arrays by a merge,
 *	  an array probed against the other side for AND and ANDNOT, anything
 *	  else as 1024-word bitsets;
 *	- the result container takes the form CRoaring's run_optimize would give
 *	  it (run when smaller, otherwise array up to 4096 values, else bitset).
 *
 * The result is produced in two walks, one that sizes it and one that
 * writes it into a buffer of exactly that size, so that nothing is copied
 * again afterwards.  Cardinalities and the subset and overlap tests read
 * only what they need and write nothing.
 *
 * Inputs must be checked bytes (audience_codec_check, or CRoaring's own
 * output); like the readers of audience_codec.c, nothing here reads
 * outside the buffers whatever the input.
 */
#include "audience_codec.h"
#include "audience_codec_int.h"

#define WORDS			1024	/* 64-bit words of a bitset container */
#define RUN_MAX_BITSET	2047	/* more runs than this: a bitset is smaller */

/*
 * The word loops are compiled for several instruction sets and picked at
 * load time: without POPCNT, a popcount is a library call per word.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__) && \
	(!defined(__clang__) || __clang_major__ >= 14)
#define KERNEL __attribute__((target_clones("arch=x86-64-v3", "popcnt", "default")))
#else
#define KERNEL
#endif

/* Bytes read at a time from a streamed input (a container is <= 8194). */
#define WINDOW			(64 * 1024)

/* Containers of one input, read in order. */
typedef struct Cursor
{
	const AudienceInput *in;
	Layout		l;
	uint32_t	i;
	size_t		pos;
	Container	c;
	bool		valid;			/* c is container i */
	/* streamed inputs: the header, and a window of the containers */
	uint8_t    *hdr;
	uint8_t    *win;
	size_t		win_off;
	size_t		win_len;
} Cursor;

/* A result container, before it is written. */
typedef struct Out
{
	ContainerKind kind;
	uint32_t	card;			/* 0: no container */
	uint32_t	nruns;
	size_t		size;			/* serialized bytes */
	const Container *copy;		/* written as this input container, or NULL */
	const uint16_t *vals;		/* sorted members, or NULL */
	const uint64_t *words;		/* the members as a bitset, when vals is NULL */
} Out;

/* Scratch space of one call: two inputs and one result, ~40 kB. */
typedef struct Work
{
	uint64_t	wa[WORDS];
	uint64_t	wb[WORDS];
	uint64_t	wr[WORDS];
	uint16_t	va[4096];
	uint16_t	vb[4096];
	uint16_t	vr[8192];
	uint64_t	wz[WORDS];		/* all zero between uses, once wz_ready */
	bool		wz_ready;
} Work;

/* Where the result goes: sized on the first walk, written on the second. */
typedef struct Emit
{
	bool		writing;
	uint32_t	n;				/* containers (so far, when writing) */
	bool		hasrun;
	size_t		datasize;		/* bytes of all containers */
	uint8_t    *base;			/* writing: the output */
	uint8_t    *header;
	uint8_t    *offsets;		/* NULL when the format has none */
	size_t		pos;
} Emit;

/* Makes bytes [pos, pos + need) of a streamed input lie in the window. */
static bool
Ensure(Cursor *cur, size_t pos, size_t need)
{
	size_t		n;

	if (pos >= cur->win_off && pos + need <= cur->win_off + cur->win_len)
		return true;
	if (pos > cur->in->len || cur->in->len - pos < need)
		return false;
	n = cur->in->len - pos < WINDOW ? cur->in->len - pos : WINDOW;
	if (!cur->in->read(cur->in->ctx, pos, n, cur->win))
		return false;
	cur->win_off = pos;
	cur->win_len = n;
	return true;
}

/* Container i of a streamed input, at pos; false if it does not fit. */
static bool
LocateStreamed(Cursor *cur)
{
	Container  *c = &cur->c;

	c->kind = Kind(&cur->l, cur->i);
	c->card = Card(&cur->l, cur->i);
	switch (c->kind)
	{
		case KIND_RUN:
			if (!Ensure(cur, cur->pos, 2))
				return false;
			c->size = 2 + 4 * (size_t) Load16(cur->win + (cur->pos - cur->win_off));
			break;
		case KIND_ARRAY:
			c->size = 2 * (size_t) c->card;
			break;
		case KIND_BITSET:
			c->size = BITSET_BYTES;
			break;
	}
	if (!Ensure(cur, cur->pos, c->size))
		return false;
	c->data = cur->win + (cur->pos - cur->win_off);
	return true;
}

static void
CursorLoad(Cursor *cur)
{
	if (cur->i >= cur->l.n)
		cur->valid = false;
	else if (cur->in->buf != NULL)
		cur->valid = audience_codec_container(&cur->l, cur->i, cur->pos, &cur->c);
	else
		cur->valid = LocateStreamed(cur);
}

/*
 * Bytes before the first container given the first 8 bytes (or fewer, for
 * a shorter input): what a streamed input reads first.  0 if they cannot
 * be the start of a bitmap.
 */
static size_t
HeaderBytes(const uint8_t *p, size_t avail)
{
	uint32_t	cookie,
				n;

	if (avail < 4)
		return 0;
	cookie = Load32(p);
	if ((cookie & 0xFFFF) == COOKIE_RUN)
	{
		n = (cookie >> 16) + 1;
		return 4 + (n + 7) / 8 + 4 * (size_t) n +
			(n >= NO_OFFSET_THRESHOLD ? 4 * (size_t) n : 0);
	}
	if (cookie != COOKIE_NO_RUN || avail < 8 || Load32(p + 4) > MAX_CONTAINERS)
		return 0;
	return 8 + 8 * (size_t) Load32(p + 4);
}

/* Reads a streamed input's header into memory of its own. */
static bool
StartStreamed(Cursor *cur)
{
	size_t		hs;

	cur->win = cur->in->alloc(cur->in->mem, WINDOW);
	if (cur->win == NULL || !Ensure(cur, 0, cur->in->len < 8 ? cur->in->len : 8))
		return false;
	hs = HeaderBytes(cur->win, cur->win_len);
	if (hs == 0 || hs > cur->in->len)
		return false;
	cur->hdr = cur->in->alloc(cur->in->mem, hs);
	if (cur->hdr == NULL)
		return false;
	if (hs <= cur->win_len)
		memcpy(cur->hdr, cur->win, hs);
	else if (!cur->in->read(cur->in->ctx, 0, hs, cur->hdr))
		return false;
	return audience_codec_layout(&cur->l, cur->hdr, hs);
}

static void
CursorStart(Cursor *cur, const AudienceInput *in)
{
	bool		ok;

	memset(cur, 0, sizeof(*cur));
	cur->in = in;
	if (in->buf != NULL)
		ok = audience_codec_layout(&cur->l, in->buf, in->len);
	else
		ok = StartStreamed(cur);
	if (!ok)
		cur->l.n = 0;
	cur->i = 0;
	cur->pos = cur->l.first;
	CursorLoad(cur);
}

/* Frees what a streamed input's cursor allocated. */
static void
CursorEnd(Cursor *cur)
{
	if (cur->hdr != NULL)
		cur->in->free(cur->in->mem, cur->hdr);
	if (cur->win != NULL)
		cur->in->free(cur->in->mem, cur->win);
	cur->hdr = cur->win = NULL;
}

static void
CursorNext(Cursor *cur)
{
	cur->pos += cur->c.size;
	cur->i++;
	CursorLoad(cur);
}

static inline uint16_t
CursorKey(const Cursor *cur)
{
	return Key(&cur->l, cur->i);
}

/* Sets bits start..end (inclusive) of a bitset. */
static void
SetRange(uint64_t *w, uint32_t start, uint32_t end)
{
	uint32_t	fw = start >> 6;
	uint32_t	lw = end >> 6;
	uint64_t	fm = ~UINT64_C(0) << (start & 63);
	uint64_t	lm = ~UINT64_C(0) >> (63 - (end & 63));
	uint32_t	k;

	if (fw == lw)
	{
		w[fw] |= fm & lm;
		return;
	}
	w[fw] |= fm;
	for (k = fw + 1; k < lw; k++)
		w[k] = ~UINT64_C(0);
	w[lw] |= lm;
}

/* Any container as a bitset. */
static void
ToWords(const Container *c, uint64_t *w)
{
	uint32_t	j;

	switch (c->kind)
	{
		case KIND_BITSET:
#ifdef AUDIENCE_CODEC_LE
			memcpy(w, c->data, WORDS * 8);
#else
			for (j = 0; j < WORDS; j++)
				w[j] = Load64(c->data + 8 * (size_t) j);
#endif
			return;
		case KIND_ARRAY:
			memset(w, 0, WORDS * 8);
			for (j = 0; j < c->card; j++)
			{
				uint16_t	v = Load16(c->data + 2 * (size_t) j);

				w[v >> 6] |= UINT64_C(1) << (v & 63);
			}
			return;
		case KIND_RUN:
			memset(w, 0, WORDS * 8);
			for (j = 0; j < Load16(c->data); j++)
			{
				uint32_t	start = Load16(c->data + 2 + 4 * (size_t) j);
				uint32_t	end = start + Load16(c->data + 4 + 4 * (size_t) j);

				SetRange(w, start, end > 0xFFFF ? 0xFFFF : end);
			}
			return;
	}
}

/* An array container's values, host order. */
static void
LoadArray(const Container *c, uint16_t *v)
{
#ifdef AUDIENCE_CODEC_LE
	memcpy(v, c->data, 2 * (size_t) c->card);
#else
	uint32_t	j;

	for (j = 0; j < c->card; j++)
		v[j] = Load16(c->data + 2 * (size_t) j);
#endif
}

/*
 * r = a OP b over two bitsets given as bytes (a stored bitset container in
 * place, or host words on a little-endian host); returns the cardinality
 * of r and sets *nruns to its number of runs (a run starts at a set bit
 * whose lower neighbour is clear).
 */
KERNEL static uint32_t
WordsOp(const uint8_t *a, const uint8_t *b, uint64_t *r, AudienceSetOp op,
		uint32_t *nruns)
{
	uint32_t	card = 0,
				runs = 0;
	uint64_t	carry = 0;
	uint32_t	k;

#define WORDS_LOOP(expr) \
	for (k = 0; k < WORDS; k++) \
	{ \
		uint64_t	x = Load64(a + 8 * (size_t) k); \
		uint64_t	y = Load64(b + 8 * (size_t) k); \
		uint64_t	w = (expr); \
		r[k] = w; \
		card += (uint32_t) __builtin_popcountll(w); \
		runs += (uint32_t) __builtin_popcountll(w & ~((w << 1) | carry)); \
		carry = w >> 63; \
	}
	switch (op)
	{
		case AUDIENCE_OP_OR:
			WORDS_LOOP(x | y);
			break;
		case AUDIENCE_OP_AND:
			WORDS_LOOP(x & y);
			break;
		case AUDIENCE_OP_ANDNOT:
			WORDS_LOOP(x & ~y);
			break;
		case AUDIENCE_OP_XOR:
			WORDS_LOOP(x ^ y);
			break;
	}
#undef WORDS_LOOP
	*nruns = runs;
	return card;
}

/*
 * A container as bitset bytes for WordsOp: a stored bitset as it is (on a
 * little-endian host), anything else expanded into scratch.
 */
static const uint8_t *
AsBitsetBytes(const Container *c, uint64_t *scratch)
{
#ifdef AUDIENCE_CODEC_LE
	if (c->kind == KIND_BITSET)
		return c->data;
#endif
	ToWords(c, scratch);
	return (const uint8_t *) scratch;
}

/*
 * Merge of two sorted arrays; r has room for na + nb values.  Branch-free:
 * the smaller head is always written and kept only when the operation
 * wants it, so random interleavings cost no mispredicted branch.
 */
static uint32_t
ArraysOp(const uint16_t *a, uint32_t na, const uint16_t *b, uint32_t nb,
		 uint16_t *r, AudienceSetOp op)
{
	uint32_t	i = 0,
				j = 0,
				n = 0;

#define MERGE_LOOP(keep) \
	while (i < na && j < nb) \
	{ \
		uint16_t	u = a[i]; \
		uint16_t	v = b[j]; \
		r[n] = u < v ? u : v; \
		n += (keep); \
		i += u <= v; \
		j += v <= u; \
	}
	switch (op)
	{
		case AUDIENCE_OP_OR:
			MERGE_LOOP(1);
			break;
		case AUDIENCE_OP_AND:
			MERGE_LOOP(u == v);
			break;
		case AUDIENCE_OP_ANDNOT:
			MERGE_LOOP(u < v);
			break;
		case AUDIENCE_OP_XOR:
			MERGE_LOOP(u != v);
			break;
	}
#undef MERGE_LOOP
	if (op != AUDIENCE_OP_AND && i < na)
	{
		memcpy(r + n, a + i, 2 * (size_t) (na - i));
		n += na - i;
	}
	if ((op == AUDIENCE_OP_OR || op == AUDIENCE_OP_XOR) && j < nb)
	{
		memcpy(r + n, b + j, 2 * (size_t) (nb - j));
		n += nb - j;
	}
	return n;
}

/*
 * Members of the array x that are (AND) or are not (ANDNOT) in the array y:
 * y's values are set in a scratch bitset and x's probed against it, then
 * the bits are cleared again.  A few plain instructions per value, where a
 * merge mispredicts about every other step.
 */
static uint32_t
FilterArrays(Work *wk, const Container *x, const Container *y, bool want, uint16_t *r)
{
	uint64_t   *restrict wz = wk->wz;
	const uint16_t *restrict xv = wk->va;
	const uint16_t *restrict yv = wk->vb;
	uint32_t	xn = x->card,
				yn = y->card,
				w = want ? 1 : 0;
	uint32_t	j,
				n = 0;

	if (!wk->wz_ready)
	{
		memset(wz, 0, sizeof(wk->wz));
		wk->wz_ready = true;
	}
	LoadArray(y, wk->vb);
	LoadArray(x, wk->va);
	for (j = 0; j < yn; j++)
		wz[yv[j] >> 6] |= UINT64_C(1) << (yv[j] & 63);
	for (j = 0; j < xn; j++)
	{
		uint16_t	v = xv[j];

		r[n] = v;
		n += (uint32_t) ((wz[v >> 6] >> (v & 63)) & 1) == w;
	}
	for (j = 0; j < yn; j++)
		wz[yv[j] >> 6] = 0;
	return n;
}

/* Whether v is in a bitset of host words. */
static bool
ProbeWords(const uint64_t *w, uint16_t v)
{
	return (w[v >> 6] >> (v & 63)) & 1;
}

/*
 * Members of the array x that are (AND) or are not (ANDNOT) in y: the
 * result is never larger than x, so no bitset is built for it.
 */
static uint32_t
ProbeArray(Work *wk, const Container *x, const Container *y, bool want, uint16_t *r)
{
	uint32_t	j,
				n = 0;

	LoadArray(x, wk->va);
	if (y->kind == KIND_BITSET)
	{
		for (j = 0; j < x->card; j++)
		{
			uint16_t	v = wk->va[j];

			if ((bool) ((y->data[v >> 3] >> (v & 7)) & 1) == want)
				r[n++] = v;
		}
		return n;
	}
	ToWords(y, wk->wb);
	for (j = 0; j < x->card; j++)
		if (ProbeWords(wk->wb, wk->va[j]) == want)
			r[n++] = wk->va[j];
	return n;
}

/* Number of runs of a sorted array. */
static uint32_t
ArrayRuns(const uint16_t *v, uint32_t n)
{
	uint32_t	runs = n > 0,
				j;

	for (j = 1; j < n; j++)
		runs += v[j] != (uint16_t) (v[j - 1] + 1);
	return runs;
}

/*
 * Sorted members of a bitset; v needs room for 4 values past the last one.
 * Four values are written for every word whatever its count (the extra
 * ones are overwritten or lie past the end), so that sparse words cost no
 * unpredictable branch; bit 63 is or'ed in only to give ctz a defined
 * result on an exhausted word.
 */
KERNEL static uint32_t
WordsToArray(const uint64_t *w, uint16_t *v)
{
	const uint64_t top = UINT64_C(1) << 63;
	uint32_t	n = 0,
				k;

	for (k = 0; k < WORDS; k++)
	{
		uint64_t	x = w[k];
		uint32_t	cnt = (uint32_t) __builtin_popcountll(x);
		uint16_t	base = (uint16_t) (k * 64);

		v[n] = (uint16_t) (base + __builtin_ctzll(x | top));
		x &= x - 1;
		v[n + 1] = (uint16_t) (base + __builtin_ctzll(x | top));
		x &= x - 1;
		v[n + 2] = (uint16_t) (base + __builtin_ctzll(x | top));
		x &= x - 1;
		v[n + 3] = (uint16_t) (base + __builtin_ctzll(x | top));
		x &= x - 1;
		if (cnt > 4)
		{
			uint32_t	j = n + 4;

			while (x)
			{
				v[j++] = (uint16_t) (base + __builtin_ctzll(x));
				x &= x - 1;
			}
		}
		n += cnt;
	}
	return n;
}

/*
 * Picks the form of a computed container as CRoaring's run_optimize does:
 * a run container when strictly smaller, otherwise an array for up to 4096
 * values and a bitset above.
 */
static void
ChooseForm(Out *o)
{
	if (o->card <= ARRAY_MAX)
	{
		if (2 * (uint64_t) o->nruns < o->card)
		{
			o->kind = KIND_RUN;
			o->size = 2 + 4 * (size_t) o->nruns;
		}
		else
		{
			o->kind = KIND_ARRAY;
			o->size = 2 * (size_t) o->card;
		}
	}
	else if (o->nruns <= RUN_MAX_BITSET)
	{
		o->kind = KIND_RUN;
		o->size = 2 + 4 * (size_t) o->nruns;
	}
	else
	{
		o->kind = KIND_BITSET;
		o->size = BITSET_BYTES;
	}
}

/* Combines the two containers of one key. */
static void
Pair(Work *wk, const Container *x, const Container *y, AudienceSetOp op, Out *o)
{
	uint32_t	j;

	memset(o, 0, sizeof(*o));
	if (x->kind == KIND_ARRAY && y->kind == KIND_ARRAY &&
		(op == AUDIENCE_OP_AND || op == AUDIENCE_OP_ANDNOT))
	{
		o->card = FilterArrays(wk, x, y, op == AUDIENCE_OP_AND, wk->vr);
		o->vals = wk->vr;
	}
	else if (x->kind == KIND_ARRAY && y->kind == KIND_ARRAY)
	{
		LoadArray(x, wk->va);
		LoadArray(y, wk->vb);
		o->card = ArraysOp(wk->va, x->card, wk->vb, y->card, wk->vr, op);
		o->vals = wk->vr;
	}
	else if ((op == AUDIENCE_OP_AND || op == AUDIENCE_OP_ANDNOT) && x->kind == KIND_ARRAY)
	{
		o->card = ProbeArray(wk, x, y, op == AUDIENCE_OP_AND, wk->vr);
		o->vals = wk->vr;
	}
	else if (op == AUDIENCE_OP_AND && y->kind == KIND_ARRAY)
	{
		o->card = ProbeArray(wk, y, x, true, wk->vr);
		o->vals = wk->vr;
	}
	else
	{
		o->card = WordsOp(AsBitsetBytes(x, wk->wa), AsBitsetBytes(y, wk->wb), wk->wr, op,
						  &o->nruns);
		o->words = wk->wr;
	}
	if (o->card == 0)
		return;
	if (o->vals != NULL)
	{
		o->nruns = ArrayRuns(o->vals, o->card);
		if (o->card > ARRAY_MAX)
		{
			/* a union or xor of two arrays can outgrow the array form */
			memset(wk->wr, 0, sizeof(wk->wr));
			for (j = 0; j < o->card; j++)
				wk->wr[o->vals[j] >> 6] |= UINT64_C(1) << (o->vals[j] & 63);
			o->words = wk->wr;
			o->vals = NULL;
		}
	}
	ChooseForm(o);
}

/* An input container carried over unchanged. */
static void
Copy(const Container *c, Out *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = c->kind;
	o->card = c->card;
	o->size = c->size;
	o->copy = c;
}

/* Writes the runs of a bitset: (start, length - 1) pairs. */
static void
WriteRunsOfWords(const uint64_t *w, uint32_t nruns, uint8_t *dst)
{
	uint8_t    *p = dst + 2;
	uint32_t	k = 0;
	uint64_t	cur = w[0];

	Store16(dst, (uint16_t) nruns);
	for (;;)
	{
		uint32_t	start,
					end;

		while (cur == 0 && k < WORDS - 1)
			cur = w[++k];
		if (cur == 0)
			return;
		start = k * 64 + __builtin_ctzll(cur);
		cur |= cur - 1;			/* ones from bit 0 up to the run's end */
		while (cur == ~UINT64_C(0) && k < WORDS - 1)
			cur = w[++k];
		if (cur == ~UINT64_C(0))
			end = 0xFFFF;
		else
			end = k * 64 + __builtin_ctzll(~cur) - 1;
		Store16(p, (uint16_t) start);
		Store16(p + 2, (uint16_t) (end - start));
		p += 4;
		if (end == 0xFFFF)
			return;
		cur &= cur + 1;			/* clears that run */
	}
}

/* Writes the runs of a sorted array. */
static void
WriteRunsOfArray(const uint16_t *v, uint32_t n, uint32_t nruns, uint8_t *dst)
{
	uint8_t    *p = dst + 2;
	uint32_t	j = 0;

	Store16(dst, (uint16_t) nruns);
	while (j < n)
	{
		uint32_t	start = j;

		while (j + 1 < n && v[j + 1] == (uint16_t) (v[j] + 1))
			j++;
		Store16(p, v[start]);
		Store16(p + 2, (uint16_t) (j - start));
		p += 4;
		j++;
	}
}

/* Writes a result container's bytes. */
static void
WriteOut(const Out *o, uint8_t *dst)
{
#ifndef AUDIENCE_CODEC_LE
	uint32_t	j;
#endif

	if (o->copy != NULL)
	{
		memcpy(dst, o->copy->data, o->copy->size);
		return;
	}
	switch (o->kind)
	{
		case KIND_RUN:
			if (o->vals != NULL)
				WriteRunsOfArray(o->vals, o->card, o->nruns, dst);
			else
				WriteRunsOfWords(o->words, o->nruns, dst);
			return;
		case KIND_BITSET:
#ifdef AUDIENCE_CODEC_LE
			memcpy(dst, o->words, BITSET_BYTES);
#else
			for (j = 0; j < WORDS; j++)
			{
				Store32(dst + 8 * j, (uint32_t) o->words[j]);
				Store32(dst + 8 * j + 4, (uint32_t) (o->words[j] >> 32));
			}
#endif
			return;
		case KIND_ARRAY:
			{
				uint16_t	v[ARRAY_MAX + 4];
				const uint16_t *vals = o->vals;

				if (vals == NULL)
				{
					(void) WordsToArray(o->words, v);
					vals = v;
				}
#ifdef AUDIENCE_CODEC_LE
				memcpy(dst, vals, 2 * (size_t) o->card);
#else
				for (j = 0; j < o->card; j++)
					Store16(dst + 2 * (size_t) j, vals[j]);
#endif
			}
			return;
	}
}

/* Counts a container on the sizing walk, writes it on the second. */
static void
EmitOut(Emit *e, uint16_t key, const Out *o)
{
	if (o->card == 0)
		return;
	if (!e->writing)
	{
		e->n++;
		e->datasize += o->size;
		e->hasrun = e->hasrun || o->kind == KIND_RUN;
		return;
	}
	Store16(e->header + 4 * (size_t) e->n, key);
	Store16(e->header + 4 * (size_t) e->n + 2, (uint16_t) (o->card - 1));
	if (o->kind == KIND_RUN)
		e->base[4 + e->n / 8] |= (uint8_t) (1 << (e->n % 8));
	if (e->offsets != NULL)
		Store32(e->offsets + 4 * (size_t) e->n, (uint32_t) e->pos);
	WriteOut(o, e->base + e->pos);
	e->pos += o->size;
	e->n++;
}

/* One walk over both inputs in key order. */
static void
Walk(const AudienceInput *a, const AudienceInput *b, AudienceSetOp op, Emit *e, Work *wk)
{
	Cursor		x,
				y;
	Out			o;
	bool		keep_a = op != AUDIENCE_OP_AND;
	bool		keep_b = op == AUDIENCE_OP_OR || op == AUDIENCE_OP_XOR;

	CursorStart(&x, a);
	CursorStart(&y, b);
	while (x.valid || y.valid)
	{
		if (!keep_a && !y.valid)
			break;
		if (!keep_b && !x.valid)
			break;
		if (!y.valid || (x.valid && CursorKey(&x) < CursorKey(&y)))
		{
			if (keep_a)
			{
				Copy(&x.c, &o);
				EmitOut(e, CursorKey(&x), &o);
			}
			CursorNext(&x);
		}
		else if (!x.valid || CursorKey(&y) < CursorKey(&x))
		{
			if (keep_b)
			{
				Copy(&y.c, &o);
				EmitOut(e, CursorKey(&y), &o);
			}
			CursorNext(&y);
		}
		else
		{
			Pair(wk, &x.c, &y.c, op, &o);
			EmitOut(e, CursorKey(&x), &o);
			CursorNext(&x);
			CursorNext(&y);
		}
	}
	CursorEnd(&x);
	CursorEnd(&y);
}

/*
 * Bytes before the first container, laid out as CRoaring writes them: the
 * run-flag cookie only when some container is a run, offsets unless that
 * cookie is used for fewer than 4 containers.
 */
static size_t
HeaderSize(const Emit *e)
{
	if (!e->hasrun)
		return 8 + 8 * (size_t) e->n;
	return 4 + (e->n + 7) / 8 + 4 * (size_t) e->n +
		(e->n >= NO_OFFSET_THRESHOLD ? 4 * (size_t) e->n : 0);
}

/* Cookie, counts, run flags and where the header and offsets go. */
static void
WriteHeader(Emit *e, uint8_t *out)
{
	size_t		hdr = HeaderSize(e);

	memset(out, 0, hdr);
	e->base = out;
	if (e->hasrun)
	{
		Store32(out, COOKIE_RUN | ((e->n - 1) << 16));
		e->header = out + 4 + (e->n + 7) / 8;
		e->offsets = e->n >= NO_OFFSET_THRESHOLD ? e->header + 4 * (size_t) e->n : NULL;
	}
	else
	{
		Store32(out, COOKIE_NO_RUN);
		Store32(out + 4, e->n);
		e->header = out + 8;
		e->offsets = e->header + 4 * (size_t) e->n;
	}
	e->pos = hdr;
	e->writing = true;
	e->n = 0;
}

/* An input of bytes in memory. */
static AudienceInput
InMemory(const uint8_t *buf, size_t len)
{
	AudienceInput in;

	memset(&in, 0, sizeof(in));
	in.buf = buf;
	in.len = len;
	return in;
}

uint8_t *
audience_codec_setop_input(const AudienceInput *a, const AudienceInput *b,
						   AudienceSetOp op, AudienceCodecAlloc alloc, void *ctx,
						   size_t reserve, size_t *len)
{
	Work		wk;
	Emit		e;
	uint8_t    *out;

	wk.wz_ready = false;
	memset(&e, 0, sizeof(e));
	Walk(a, b, op, &e, &wk);
	*len = HeaderSize(&e) + e.datasize;
	out = alloc(ctx, reserve + *len);
	if (out == NULL)
		return NULL;
	WriteHeader(&e, out + reserve);
	Walk(a, b, op, &e, &wk);
	return out;
}

uint8_t *
audience_codec_setop(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
					 AudienceSetOp op, AudienceCodecAlloc alloc, void *ctx,
					 size_t reserve, size_t *len)
{
	AudienceInput x = InMemory(a, alen);
	AudienceInput y = InMemory(b, blen);

	return audience_codec_setop_input(&x, &y, op, alloc, ctx, reserve, len);
}

/* |x & y| of two bitsets, read in place. */
KERNEL static uint32_t
BitsetsAndCount(const uint8_t *x, const uint8_t *y)
{
	uint32_t	n = 0,
				k;

	for (k = 0; k < WORDS; k++)
		n += (uint32_t) __builtin_popcountll(Load64(x + 8 * (size_t) k) & Load64(y + 8 * (size_t) k));
	return n;
}

/* |x & y| of two bitsets in host words. */
KERNEL static uint32_t
WordsAndCount(const uint64_t *x, const uint64_t *y)
{
	uint32_t	n = 0,
				k;

	for (k = 0; k < WORDS; k++)
		n += (uint32_t) __builtin_popcountll(x[k] & y[k]);
	return n;
}

/* |x & y| for two containers of the same key. */
static uint32_t
PairAndCount(Work *wk, const Container *x, const Container *y)
{
	if (x->kind == KIND_ARRAY && y->kind == KIND_ARRAY)
		return FilterArrays(wk, x, y, true, wk->vr);
	if (x->kind == KIND_BITSET && y->kind == KIND_BITSET)
		return BitsetsAndCount(x->data, y->data);
	if (x->kind == KIND_ARRAY)
		return ProbeArray(wk, x, y, true, wk->vr);
	if (y->kind == KIND_ARRAY)
		return ProbeArray(wk, y, x, true, wk->vr);
	ToWords(x, wk->wa);
	ToWords(y, wk->wb);
	return WordsAndCount(wk->wa, wk->wb);
}

/*
 * Walks the keys both inputs share.  With stop_at_first, returns as soon as
 * one shared member is found (1), for the overlap test.
 */
static uint64_t
AndCount(const AudienceInput *a, const AudienceInput *b, bool stop_at_first)
{
	Work		wk;
	Cursor		x,
				y;
	uint64_t	n = 0;

	wk.wz_ready = false;
	CursorStart(&x, a);
	CursorStart(&y, b);
	while (x.valid && y.valid)
	{
		uint16_t	kx = CursorKey(&x);
		uint16_t	ky = CursorKey(&y);

		if (kx < ky)
			CursorNext(&x);
		else if (ky < kx)
			CursorNext(&y);
		else
		{
			n += PairAndCount(&wk, &x.c, &y.c);
			if (stop_at_first && n > 0)
				break;
			CursorNext(&x);
			CursorNext(&y);
		}
	}
	CursorEnd(&x);
	CursorEnd(&y);
	return n;
}

/* Members of an input, from its header alone. */
uint64_t
audience_codec_input_cardinality(const AudienceInput *in)
{
	Cursor		x;
	uint64_t	total = 0;
	uint32_t	i;

	if (in->buf != NULL)
		return audience_codec_cardinality(in->buf, in->len);
	CursorStart(&x, in);
	for (i = 0; i < x.l.n; i++)
		total += Card(&x.l, i);
	CursorEnd(&x);
	return total;
}

uint64_t
audience_codec_and_cardinality(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	AudienceInput x = InMemory(a, alen);
	AudienceInput y = InMemory(b, blen);

	return AndCount(&x, &y, false);
}

/* |a OP b| from |a|, |b| and |a & b|. */
uint64_t
audience_codec_setop_cardinality_input(const AudienceInput *a, const AudienceInput *b,
									   AudienceSetOp op)
{
	uint64_t	inter = AndCount(a, b, false);
	uint64_t	ca,
				cb;

	if (op == AUDIENCE_OP_AND)
		return inter;
	ca = audience_codec_input_cardinality(a);
	if (op == AUDIENCE_OP_ANDNOT)
		return ca - inter;
	cb = audience_codec_input_cardinality(b);
	if (op == AUDIENCE_OP_OR)
		return ca + cb - inter;
	return ca + cb - 2 * inter;
}

uint64_t
audience_codec_setop_cardinality(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
								 AudienceSetOp op)
{
	AudienceInput x = InMemory(a, alen);
	AudienceInput y = InMemory(b, blen);

	return audience_codec_setop_cardinality_input(&x, &y, op);
}

bool
audience_codec_intersects_input(const AudienceInput *a, const AudienceInput *b)
{
	return AndCount(a, b, true) > 0;
}

bool
audience_codec_intersects(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	AudienceInput x = InMemory(a, alen);
	AudienceInput y = InMemory(b, blen);

	return AndCount(&x, &y, true) > 0;
}

/*
 * Every member of a is in b: each container of a has a container of the
 * same key in b that holds all of it.
 */
bool
audience_codec_is_subset_input(const AudienceInput *a, const AudienceInput *b)
{
	Work		wk;
	Cursor		x,
				y;
	bool		subset = true;

	wk.wz_ready = false;
	if (audience_codec_input_cardinality(a) > audience_codec_input_cardinality(b))
		return false;
	CursorStart(&x, a);
	CursorStart(&y, b);
	for (; x.valid && subset; CursorNext(&x))
	{
		while (y.valid && CursorKey(&y) < CursorKey(&x))
			CursorNext(&y);
		if (!y.valid || CursorKey(&y) != CursorKey(&x) || y.c.card < x.c.card ||
			PairAndCount(&wk, &x.c, &y.c) != x.c.card)
			subset = false;
	}
	CursorEnd(&x);
	CursorEnd(&y);
	return subset;
}

bool
audience_codec_is_subset(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	AudienceInput x = InMemory(a, alen);
	AudienceInput y = InMemory(b, blen);

	return audience_codec_is_subset_input(&x, &y);
}

/* Same members: equal cardinalities, and the intersection is all of a. */
bool
audience_codec_equal_sets(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return audience_codec_cardinality(a, alen) == audience_codec_cardinality(b, blen) &&
		audience_codec_is_subset(a, alen, b, blen);
}

/* Cardinality and number of runs of a bitset. */
KERNEL static uint32_t
WordsCardRuns(const uint64_t *w, uint32_t *nruns)
{
	uint32_t	card = 0,
				runs = 0,
				k;
	uint64_t	carry = 0;

	for (k = 0; k < WORDS; k++)
	{
		card += (uint32_t) __builtin_popcountll(w[k]);
		runs += (uint32_t) __builtin_popcountll(w[k] & ~((w[k] << 1) | carry));
		carry = w[k] >> 63;
	}
	*nruns = runs;
	return card;
}

/* A source container in canonical form (empty ones give card 0). */
static void
SourceOut(Work *wk, const AudienceSource *src, Out *o)
{
	uint32_t	j;

	memset(o, 0, sizeof(*o));
	if (src->vals != NULL)
	{
		o->card = src->nvals;
		o->vals = src->vals;
		o->nruns = ArrayRuns(src->vals, src->nvals);
		if (o->card > ARRAY_MAX)
		{
			memset(wk->wr, 0, sizeof(wk->wr));
			for (j = 0; j < o->card; j++)
				wk->wr[src->vals[j] >> 6] |= UINT64_C(1) << (src->vals[j] & 63);
			o->words = wk->wr;
			o->vals = NULL;
		}
	}
	else
	{
		o->card = WordsCardRuns(src->words, &o->nruns);
		o->words = src->words;
	}
	if (o->card > 0)
		ChooseForm(o);
}

uint8_t *
audience_codec_build(uint32_t n, AudienceSourceFn fn, void *arg,
					 AudienceCodecAlloc alloc, void *ctx, size_t reserve, size_t *len)
{
	Work		wk;
	Emit		e;
	AudienceSource src;
	Out			o;
	uint8_t    *out;
	uint32_t	i;
	int			pass;

	wk.wz_ready = false;
	memset(&e, 0, sizeof(e));
	out = NULL;
	for (pass = 0; pass < 2; pass++)
	{
		if (pass == 1)
		{
			*len = HeaderSize(&e) + e.datasize;
			out = alloc(ctx, reserve + *len);
			if (out == NULL)
				return NULL;
			WriteHeader(&e, out + reserve);
		}
		for (i = 0; i < n; i++)
		{
			memset(&src, 0, sizeof(src));
			fn(arg, i, &src);
			SourceOut(&wk, &src, &o);
			EmitOut(&e, src.key, &o);
		}
	}
	return out;
}

void
audience_codec_each_container(const uint8_t *buf, size_t len,
							  AudienceContainerFn fn, void *arg)
{
	Work		wk;
	Cursor		x;
	AudienceInput in = InMemory(buf, len);

	wk.wz_ready = false;
	for (CursorStart(&x, &in); x.valid; CursorNext(&x))
	{
		if (x.c.kind == KIND_ARRAY)
		{
			LoadArray(&x.c, wk.va);
			fn(arg, CursorKey(&x), wk.va, x.c.card, NULL);
		}
		else
		{
			ToWords(&x.c, wk.wa);
			fn(arg, CursorKey(&x), NULL, x.c.card, wk.wa);
		}
	}
	CursorEnd(&x);
}

/*
 * Membership of x in an input: the header, then only the one container
 * (located by its offset when the format has offsets).
 */
bool
audience_codec_contains_input(const AudienceInput *in, uint32_t x)
{
	Cursor		cur;
	int64_t		i;
	bool		found = false;

	if (in->buf != NULL)
		return audience_codec_contains(in->buf, in->len, x);
	CursorStart(&cur, in);
	i = audience_codec_find_key(&cur.l, (uint16_t) (x >> 16));
	if (i >= 0 && cur.l.offsets != NULL)
	{
		cur.i = (uint32_t) i;
		cur.pos = Load32(cur.l.offsets + 4 * (size_t) i);
		CursorLoad(&cur);
	}
	else if (i >= 0)
		while (cur.valid && cur.i < (uint32_t) i)
			CursorNext(&cur);
	if (i >= 0 && cur.valid)
		found = audience_codec_container_contains(&cur.c, (uint16_t) (x & 0xFFFF));
	CursorEnd(&cur);
	return found;
}
