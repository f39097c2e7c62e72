# PGXS build of the segment extension.
#
#   make && make install        build and install (needs pg_config in PATH)
#   make installcheck           pg_regress against a running server
#   scripts/test.sh             everything, on a throwaway cluster (README)

EXTENSION = segment
MODULE_big = segment
EXTVERSION = 0.2

OBJS = \
	src/segment.o \
	src/audience_codec.o \
	src/audience_roaring.o \
	src/audience_setops.o \
	src/audience_bitmap.o \
	src/audience_io.o \
	src/audience_ops.o \
	src/audience_paging.o \
	src/audience_agg.o \
	src/audience_support.o \
	src/id_chunks.o \
	src/audience_campaign.o \
	src/campaign_hash.o \
	src/rule_arena.o \
	src/rule_ast.o \
	src/rule_error.o \
	src/rule_lexer.o \
	src/rule_parser.o \
	src/rule_print.o \
	src/rule_serial.o \
	src/rule_window.o \
	src/rule_type.o \
	src/key_dictionary.o \
	src/key_dictionary_share.o \
	src/key_dictionary_agg.o \
	src/audience_keys.o \
	src/key_batch.o \
	src/rule_json.o \
	src/rule_json_pg.o \
	src/rule_rewrite.o \
	src/catalog.o \
	src/catalog_lookup.o \
	src/catalog_tags.o \
	src/rule_compile.o \
	src/rule_compile_cond.o \
	src/rule_compile_source.o \
	src/rule_compile_agg.o \
	src/rule_compile_merge.o \
	src/rule_compile_customer.o \
	src/rule_compile_split.o \
	src/rule_compile_sequence.o \
	src/rule_compile_rank.o \
	src/rule_compile_funnel.o \
	src/first_last_agg.o \
	src/rule_compile_shard.o \
	src/grouped_audience_agg.o \
	src/grouped_audience_cmp.o \
	src/rule_compile_colocated.o \
	src/rule_compile_shard_seq.o \
	src/rule_compile_shard_join.o \
	src/rule_choice.o \
	src/rule_eval.o \
	src/rule_share.o \
	src/rule_paths.o \
	src/rule_explain.o \
	src/autotag_cache.o \
	src/autotag_sql.o \
	src/autotag_decide.o \
	src/autotag_layers.o \
	src/autotag_trigger.o \
	src/tag_store.o \
	src/rule_privilege.o \
	src/refresh_progress.o

# The install script is assembled from one file per feature, in this order.
SQL_PARTS = \
	src/sql/00_header.sql \
	src/sql/10_audience.sql \
	src/sql/15_privilege.sql \
	src/sql/20_registry.sql \
	src/sql/30_rule.sql \
	src/sql/31_rule_json.sql \
	src/sql/40_evaluate.sql \
	src/sql/41_funnel.sql \
	src/sql/42_first_last.sql \
	src/sql/45_segments.sql \
	src/sql/46_schedule.sql \
	src/sql/47_changes.sql \
	src/sql/48_snapshots.sql \
	src/sql/49_explain.sql \
	src/sql/50_tags.sql \
	src/sql/51_autotag.sql \
	src/sql/60_campaign.sql \
	src/sql/61_contacts.sql \
	src/sql/62_presets.sql \
	src/sql/63_rfm.sql \
	src/sql/70_scale_out.sql \
	src/sql/71_grouped_agg.sql \
	src/sql/80_views.sql \
	src/sql/85_dependencies.sql \
	src/sql/90_tenancy.sql

DATA_built = $(EXTENSION)--$(EXTVERSION).sql
# Past releases' install scripts (rebuilt from git history, never edited)
# and the upgrade scripts between releases: ALTER EXTENSION segment UPDATE.
DATA = $(wildcard updates/$(EXTENSION)--*.sql)
DOCS = $(wildcard doc/*.md)

REGRESS = audience_io audience_ops audience_agg audience_bad_input registry rule rule_json window evaluate behaviour collation funnel key_dictionary segments changes tags autotag campaign contacts presets rfm tenancy dependencies timezones privileges security snapshots tag_changes reduction explain grouped_audience_agg
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)
# make installcheck runs the TAP tests too (each starts its own clusters;
# run as a user PostgreSQL accepts, not root).  scripts/test.sh runs them
# the same way, on throwaway clusters, with release 0.1 for the upgrade test.
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
PROVE_FLAGS = -I test/t

PG_CPPFLAGS = -I$(srcdir)/src
# libroaring is opened privately at run time (src/audience_roaring.h), not
# linked: another module's CRoaring symbols must not interpose on ours.
# -Bsymbolic binds segment's own calls inside segment.so likewise.
SHLIB_LINK = -ldl -Wl,-Bsymbolic

EXTRA_CLEAN = $(DATA_built)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) Makefile
	cat $(SQL_PARTS) > $@

# PGXS tracks no header dependencies (unless PostgreSQL was configured with
# --enable-depend): every object depends on every header of src/, so that a
# changed struct never leaves objects compiled against its old layout.
$(OBJS): $(wildcard src/*.h)
