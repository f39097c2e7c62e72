/*
 * key_dictionary.h
 *		The backend-local cache of the customer key dictionary.
 */
#ifndef KEY_DICTIONARY_H
#define KEY_DICTIONARY_H

/* segment.dictionary_cache_size, in kB (0: never cache) */
extern int	segment_dictionary_cache_kb;

extern Oid	key_dictionary_relid(void);
extern bool key_dictionary_cache_fits(double n, int16 typlen);

#endif							/* KEY_DICTIONARY_H */
