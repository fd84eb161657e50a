# vdsokit: `make run` and `make test` are the two set-up commands (README.md).
# Both install missing Debian packages, configure and build; then run the main job / every test.
BUILD    ?= build
JOBS     ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVK_WERROR=ON
SAMPLE   ?= corpora/samples/host-vdsoloop

# Build dependencies (Debian package names). llvm-dev is satisfied by any llvm-14..19-dev.
# vdsokit links libprotobuf, yaml-cpp, libarchive and the compressors behind it statically (start-up
# time, cmake/deps.cmake): the -dev packages shipping those lib*.a are listed (libarchive-dev does not
# depend on them; libncurses-dev has LLVM's libtinfo.a).
DEB_BUILD = cmake make g++ pkg-config llvm-dev libcli11-dev libyaml-cpp-dev doctest-dev libprotobuf-dev \
            protobuf-compiler nlohmann-json3-dev libarchive-dev zstd \
            zlib1g-dev liblzma-dev libbz2-dev nettle-dev libzstd-dev liblz4-dev libncurses-dev
# Sanitizer and fuzz builds (make test-sanitize, make fuzz, make fuzz-smoke): clang-14 and libFuzzer.
DEB_SAN   = clang-14 libfuzzer-14-dev
# Test-only dependencies: Debian's crit (criu 3.17.1) is the reference decoder for old-schema images;
# gcc-multilib lets the live tests build a 32-bit child; python3 parses JUnit/SVG output in the CLI tests,
# python3-jsonschema validates every JSON output the tests see against docs/schemas/.
# mmdebstrap builds the private roots with Debian's CRIU 4.1.x/4.2.x that the e2e tests restore with
# (scripts/criu-roots.sh, cached outside the tree in $(CRIU_CACHE)).
# slurm-wlm (slurmctld, slurmd, client) and munge run the single-node Slurm cluster of the
# slurm_array test (tests/slurm/; installing them starts no service).
DEB_TEST  = criu gcc-multilib python3 python3-jsonschema mmdebstrap slurm-wlm munge
# Bench-only dependencies (`make bench`, bench/ratios.py): the real baselines of issue 11, Debian's
# pycriu/crit (criu, python3-protobuf) and zstd; hyperfine for ad-hoc comparisons.
DEB_BENCH = criu python3 python3-protobuf zstd hyperfine
CRIU_CACHE ?= $(or $(VDSOKIT_CRIU_CACHE),/var/tmp/vdsokit-criu)

.PHONY: all deps deps-test deps-bench build run test test-slurm bench clean deps-san asan-build test-sanitize fuzz fuzz-smoke

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

# Only the Slurm array test (tests/slurm), which `make test` runs too.
test-slurm: deps-test build
	cd $(BUILD) && ctest --output-on-failure -L slurm

bench: deps-bench build
	cmake --build $(BUILD) --target benchmarks -j $(JOBS)
	cd $(BUILD) && ctest -C bench -L bench --output-on-failure -V

# ASan + UBSan build of everything (clang-14, $(ASAN_BUILD)), the fuzz targets included, and the test
# suite under it. The live and e2e labels are left out: they restore real processes with CRIU and move
# the live vDSO, which the normal `make test` covers, and they would take most of the CI budget here.
ASAN_BUILD ?= build-asan
ASAN_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVK_WERROR=ON -DVK_FUZZ=ON \
              -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14
ASAN_EXCLUDE ?= live|e2e|bench
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 15
export ASAN_OPTIONS ?= detect_leaks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

deps-san: deps
	@scripts/deps.sh $(DEB_SAN)

$(ASAN_BUILD)/CMakeCache.txt: | deps-san
	cmake -S . -B $(ASAN_BUILD) $(ASAN_FLAGS)

asan-build: deps-san $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-sanitize: deps-test asan-build
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE '$(ASAN_EXCLUDE)'

# Each fuzz target for FUZZ_SECONDS (make fuzz) or FUZZ_SMOKE_SECONDS (make fuzz-smoke, CI); any crash,
# leak, timeout or out-of-memory fails the run (scripts/fuzz.sh).
fuzz: asan-build
	scripts/fuzz.sh $(ASAN_BUILD) $(FUZZ_SECONDS)

fuzz-smoke: asan-build
	scripts/fuzz.sh $(ASAN_BUILD) $(FUZZ_SMOKE_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
