# SPDX-License-Identifier: BSD-3-Clause
# The two commands of the README:
#   make run    install what is missing, build, serve a disk
#   make check  install what is missing, build (plain and ASan+UBSan), run every test
BUILD ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?= -Dwerror=true

.PHONY: all deps build build-asan run check check-quick soak bench bench-vhost-user clean

all: build

deps:
	@tools/install-deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) $(MESON_OPTS) -Dbuildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

run: build
	tools/run-demo.sh $(BUILD)/src/daemon/steadyblk

# Every test: unit (cmocka), integration (real clients), under both builds,
# and the unit tests under valgrind.
check: build build-asan
	tests/run.sh --build $(BUILD) --asan $(ASAN_BUILD)

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
	rm -rf $(BUILD) $(ASAN_BUILD)
