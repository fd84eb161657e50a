# vdsokit: `make run` and `make test` are the two set-up commands (README.md).
# Both install missing Debian packages, configure and build; then run the main job / every test.
BUILD    ?= build
JOBS     ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVK_WERROR=ON
SAMPLE   ?= corpora/samples/host-vdsoloop

# Build dependencies (Debian package names). llvm-dev is satisfied by any llvm-14..19-dev.
DEB_BUILD = cmake make g++ pkg-config llvm-dev libcli11-dev libyaml-cpp-dev doctest-dev libprotobuf-dev \
            protobuf-compiler nlohmann-json3-dev libarchive-dev zstd
# Test-only dependencies: Debian's crit (criu 3.17.1) is the reference decoder for old-schema images;
# gcc-multilib lets the live tests build a 32-bit child; python3 parses JUnit/SVG output in the CLI tests.
# mmdebstrap builds the private roots with Debian's CRIU 4.1.x/4.2.x that the e2e tests restore with
# (scripts/criu-roots.sh, cached outside the tree in $(CRIU_CACHE)).
# slurm-wlm (slurmctld, slurmd, client) and munge run the single-node Slurm cluster of the
# slurm_array test (tests/slurm/; installing them starts no service).
DEB_TEST  = criu gcc-multilib python3 mmdebstrap slurm-wlm munge
# Bench-only dependencies (`make bench`, bench/ratios.py): the real baselines of issue 11, Debian's
# pycriu/crit (criu, python3-protobuf) and zstd; hyperfine for ad-hoc comparisons.
DEB_BENCH = criu python3 python3-protobuf zstd hyperfine
CRIU_CACHE ?= $(or $(VDSOKIT_CRIU_CACHE),/var/tmp/vdsokit-criu)

.PHONY: all deps deps-test deps-bench build run test bench clean

all: build

deps:
	@scripts/deps.sh $(DEB_BUILD)

deps-test: deps
	@scripts/deps.sh $(DEB_TEST)
	@scripts/criu-roots.sh $(CRIU_CACHE) || echo "make: CRIU roots unavailable; e2e tests will say why"

deps-bench: deps
	@scripts/deps.sh $(DEB_BENCH)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/cli/vdsokit inspect $(SAMPLE)

test: deps-test build
	$(BUILD)/cli/vdsokit inspect $(SAMPLE)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: deps-bench build
	cmake --build $(BUILD) --target benchmarks -j $(JOBS)
	cd $(BUILD) && ctest -C bench -L bench --output-on-failure -V

clean:
	rm -rf $(BUILD)
