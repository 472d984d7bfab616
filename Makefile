# minnow — top-level build. `make` builds build/minnow and build/libminnow.a.
# `make test` and `make demo` first install (as root) or name the Debian
# packages they need. SAN=1 builds with ASan+UBSan into build-asan/.
CC      ?= cc
SAN     ?= 0
ifeq ($(SAN),1)
BUILD   ?= build-asan
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT     ?= -O1
else
BUILD   ?= build
SANFLAGS =
OPT     ?= -O2
endif
PREFIX  ?= /usr/local
PROTO   ?= /usr/include/onnx/onnx.proto

WARN     = -Wall -Wextra -Werror $(if $(findstring clang,$(shell $(CC) --version 2>/dev/null)),,-Wno-format-truncation)
CPPFLAGS = -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc -I$(BUILD)/gen $(shell pkg-config --cflags libpng 2>/dev/null)
CFLAGS  ?= $(OPT) -g
ALLCFLAGS = -std=c11 $(WARN) $(CFLAGS) $(SANFLAGS) -fPIC
LDLIBS   = -lprotobuf-c -lz -lpng -ljpeg -lcjson -lm -lpthread
LDFLAGS += $(SANFLAGS)

GEN_C    = $(BUILD)/gen/onnx.pb-c.c
GEN_H    = $(BUILD)/gen/onnx.pb-c.h
LIB_SRCS = $(sort $(shell find src -name '*.c'))
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/onnx.pb-c.o
CLI_SRCS = $(sort $(wildcard tools/minnow/*.c))
CLI_OBJS = $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS = $(sort $(wildcard tests/unit/*.c))
TEST_OBJS = $(TEST_SRCS:%.c=$(BUILD)/obj/%.o)

.PHONY: all lib test demo bench install deps deps-test clean fuzz asan-test conformance
all: $(BUILD)/minnow $(BUILD)/libminnow.a

# per-file ISA flags: kernels named *_avx2.c / *_avx512.c / *_avx512vbmi.c /
# *_avx512vnni.c
$(BUILD)/obj/%_avx2.o: ISA = -mavx2 -mfma -mf16c
$(BUILD)/obj/%_avx512.o: ISA = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c
$(BUILD)/obj/%_avx512vbmi.o: ISA = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vbmi -mavx512vnni -mfma -mf16c
$(BUILD)/obj/%_avx512vnni.o: ISA = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mfma -mf16c

$(GEN_C) $(GEN_H): $(PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -I$(dir $(PROTO)) $(PROTO)

$(BUILD)/obj/gen/onnx.pb-c.o: $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(CFLAGS) $(SANFLAGS) -fPIC -w -I$(BUILD)/gen -c $< -o $@

# Each object depends on the headers it includes (-MMD writes them to a .d
# file beside it; -MP keeps a deleted header from breaking the build).
$(BUILD)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) $(ISA) -MMD -MP -c $< -o $@

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_OBJS:.o=.d)

$(BUILD)/libminnow.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/minnow: $(CLI_OBJS) $(BUILD)/libminnow.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libminnow.a $(LDLIBS)

$(BUILD)/minnow_tests: $(TEST_OBJS) $(BUILD)/libminnow.a
	$(CC) $(LDFLAGS) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign -o $@ $(TEST_OBJS) $(BUILD)/libminnow.a $(LDLIBS)

deps:
	@sh scripts/deps.sh build
deps-test:
	@sh scripts/deps.sh test

# The full test suite CI runs (see .ci/run): unit tests, CLI tests,
# conformance, then the same under ASan+UBSan, then a bounded fuzz run.
test: deps-test
	sh tests/ci.sh 60

conformance: all
	sh tests/conformance.sh $(BUILD)

demo: deps
	$(MAKE) all
	sh scripts/demo.sh $(BUILD)

bench: deps
	$(MAKE) all
	sh bench/run.sh $(BUILD)

fuzz:
	sh fuzz/run.sh 120

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/minnow
	install -m 755 $(BUILD)/minnow $(DESTDIR)$(PREFIX)/bin/minnow
	install -m 644 $(BUILD)/libminnow.a $(DESTDIR)$(PREFIX)/lib/libminnow.a
	install -m 644 include/minnow/*.h $(DESTDIR)$(PREFIX)/include/minnow/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|0.1.0|g' scripts/minnow.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/minnow.pc

clean:
	rm -rf build build-asan build-fuzz
