# SPDX-License-Identifier: BSD-3-Clause
# The two commands of the README:
#   make run    install what is missing, build, serve a disk
#   make check  install what is missing, build (plain and ASan+UBSan), run every test
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
# make check runs the libFuzzer harnesses briefly in a clang build (deps
# installs clang; FUZZ_CHECK=0 leaves them out, the corpora are replayed
# either way).
FUZZ_CHECK ?= 1
MESON_OPTS ?= -Dwerror=true

.PHONY: all deps build build-asan build-fuzz fuzz run check check-quick soak bench bench-vhost-user clean

all: build

deps:
	@tools/install-deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) $(MESON_OPTS) -Dbuildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false

$(FUZZ_BUILD)/build.ninja: | deps
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dbuildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

build-fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)

run: build
	tools/run-demo.sh $(BUILD)/src/daemon/steadyblk

# Every test: unit (cmocka), integration (real clients), the fuzz corpora
# replayed, under both builds, the unit tests under valgrind, and each
# libFuzzer harness briefly (with clang).
check: build build-asan $(if $(filter 1,$(FUZZ_CHECK)),build-fuzz)
	tests/run.sh --build $(BUILD) --asan $(ASAN_BUILD) \
		$(if $(filter 1,$(FUZZ_CHECK)),--fuzz $(FUZZ_BUILD))

# Each fuzz harness for FUZZ_SECONDS (60) on a scratch copy of its corpus
# (tests/fuzz/README.md); the crashes' directory is printed at the end.
fuzz: build-fuzz
	tests/fuzz/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The plain build only: for a quick look while developing.
check-quick: build
	tests/run.sh --build $(BUILD)

# The chaos test for longer: SOAK_SECONDS (1800) of rounds with new seeds.
soak: build
	tests/chaos/soak.sh $(BUILD)/src/daemon/steadyblk

bench: build
	bench/run.sh

# fio in a guest: steadyblk's vhost-user-blk export against
# qemu-storage-daemon's, and against steadyblk over NBD.
bench-vhost-user: build
	bench/vhost-user.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
