// analyzers/verdict + check: the restore rules on catalog pairs, and predictions against what upstream
// CRIU 4.2 really did with the fixture checkpoints on this machine's Linux 6.18.
#include <doctest/doctest.h>

#include <set>

#include "analyzers/check.h"
#include "analyzers/matrix.h"
#include "support/fixtures.h"

using namespace vk;
using namespace vk::analyze;

namespace {

const catalog::Catalog& cat() { return catalog::Catalog::builtin(); }

// The machine the host fixtures were dumped and restored on (their READMEs: Linux 6.18.44-fc-v669,
// [vvar] 4 + [vvar_vclock] 2 + [vdso] 2 pages in that order), as a catalog target: its vDSO is the
// first-gen dump of host-proxy-second-gen, its layout the 6.18 version rules (the same facts). The
// predictions are judged against that machine, not against whatever Linux runs the tests.
const char* kFixtureHost = "fixture-host/x86_64";
const catalog::Catalog& fixture_cat() {
  static const catalog::Catalog c = [] {
    catalog::Catalog c = catalog::Catalog::builtin();
    auto host = test::fixture_host(kFixtureHost);
    host.entry.release = "6.18.44-fc-v669";
    REQUIRE(host.entry.vvar_pages.value == 4);
    REQUIRE(host.entry.vvar_vclock_pages.value == 2);
    c.add(host.entry, host.elf);
    return c;
  }();
  return c;
}

const catalog::Entry& entry(const std::string& id) {
  const auto* e = cat().find(id);
  REQUIRE_MESSAGE(e, "no catalog entry " << id);
  return *e;
}

Outcome judge(const std::string& from, const std::string& to, const std::string& restorer = "criu-4.2") {
  auto s = subject_from_entry(cat(), entry(from));
  REQUIRE_MESSAGE(s, (s ? "" : s.error().str()));
  return evaluate(*s, entry(to), *find_restorer(restorer));
}

bool has(const Outcome& o, const std::string& code) {
  for (const auto& f : o.findings)
    if (f.code == code) return true;
  return false;
}

// The first pair of distinct x86_64 builds satisfying `pred`.
std::pair<std::string, std::string> find_pair(const std::function<bool(const catalog::Entry&, const catalog::Entry&)>& pred) {
  for (const auto& a : cat().entries())
    for (const auto& b : cat().entries())
      if (a.id != b.id && a.abi == vdso::Abi::X86_64 && b.abi == vdso::Abi::X86_64 && !a.synthetic && !b.synthetic && pred(a, b))
        return {a.id, b.id};
  return {};
}

bool same_offsets(const catalog::Entry& a, const catalog::Entry& b) {
  for (const auto& n : vdso::criu_proxy_symbols()) {
    const auto *x = a.find(n), *y = b.find(n);
    if (bool(x) != bool(y) || (x && x->offset != y->offset)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("the same build restores in place, under every restorer that can run there") {
  auto o = judge("6.1.0-47-amd64/x86_64", "6.1.0-47-amd64/x86_64");
  CHECK(o.verdict == Verdict::Inplace);
  CHECK(has(o, "VK001"));
  CHECK(o.exit_code() == kExitOk);
  CHECK(o.clock_getres_ok);
  CHECK(judge("6.1.0-47-amd64/x86_64", "6.1.0-47-amd64/x86_64", "vdsokit-runtime").verdict == Verdict::Inplace);
}

TEST_CASE("in place across a Debian ABI bump of one series built with one compiler") {
  auto [a, b] = find_pair([](const catalog::Entry& x, const catalog::Entry& y) {
    return x.version.substr(0, x.version.rfind('.')) == y.version.substr(0, y.version.rfind('.')) &&
           x.release != y.release && x.flavour == y.flavour && x.compiler == y.compiler && same_offsets(x, y) &&
           x.vdso_pages == y.vdso_pages && x.vvar_total() == y.vvar_total();
  });
  REQUIRE_MESSAGE(!a.empty(), "the corpus pins two ABIs of one series with the same compiler");
  auto o = judge(a, b);
  CHECK(o.verdict == Verdict::Inplace);
}

TEST_CASE("proxy across versions: 5.10 to 6.1, with clock_getres left on old code by CRIU") {
  auto o = judge("5.10.0-32-amd64/x86_64", "6.1.0-47-amd64/x86_64");
  REQUIRE(o.verdict == Verdict::Proxy);
  CHECK(has(o, "VK002"));
  CHECK(has(o, "VK003"));
  CHECK(!o.clock_getres_ok);
  CHECK(o.clocks_ok);
  CHECK(o.exit_code() == kExitFindings);
  // vdsokit's runtime patches every export: a clean proxy.
  auto rt = judge("5.10.0-32-amd64/x86_64", "6.1.0-47-amd64/x86_64", "vdsokit-runtime");
  CHECK(rt.verdict == Verdict::Proxy);
  CHECK(rt.clock_getres_ok);
  CHECK(!has(rt, "VK003"));
}

TEST_CASE("blocked: CRIU before 4.1 cannot run on a kernel with [vvar_vclock]") {
  const catalog::Entry* vclock = nullptr;
  for (const auto& e : cat().entries())
    if (e.abi == vdso::Abi::X86_64 && e.vvar_vclock_pages.value > 0 && !e.synthetic) vclock = &e;
  REQUIRE(vclock);
  auto o = judge("6.1.0-47-amd64/x86_64", vclock->id, "criu-4.0");
  CHECK(o.verdict == Verdict::Blocked);
  CHECK(has(o, "VK010"));
  CHECK(o.exit_code() == kExitBlocked);
  CHECK(judge("6.1.0-47-amd64/x86_64", vclock->id, "criu-3.17").verdict == Verdict::Blocked);
  CHECK(judge("6.1.0-47-amd64/x86_64", vclock->id, "criu-4.1").verdict != Verdict::Blocked);
  // Without vclock on the target, criu-4.0 runs.
  CHECK(judge("5.10.0-32-amd64/x86_64", "6.1.0-47-amd64/x86_64", "criu-4.0").verdict == Verdict::Proxy);
}

TEST_CASE("retargetable on a real pair: same vdso offsets and size, vvar grown by [vvar_vclock]") {
  // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda (the sanitizer build).
  const auto pair = find_pair([](const catalog::Entry& x, const catalog::Entry& y) {
    return same_offsets(x, y) && x.vdso_pages == y.vdso_pages && x.vvar_total() < y.vvar_total();
  });
  const std::string& a = pair.first;
  const std::string& b = pair.second;
  REQUIRE_MESSAGE(!a.empty(), "the corpus has a 6.12 -> 6.16 style pair");
  CAPTURE(a);
  CAPTURE(b);
  auto o = judge(a, b);
  CHECK(o.verdict == Verdict::Retargetable);
  CHECK(has(o, "VK006"));
  REQUIRE(o.retarget);
  CHECK(o.retarget->vvar_size == entry(b).vvar_total());
}

TEST_CASE("retargetable: same vdso, vvar grown by [vvar_vclock] (synthetic target: a 6.1 build given the 6.13+ vvar layout)") {
  catalog::Entry target = entry("6.1.0-47-amd64/x86_64");
  target.id = "synthetic-6.1-with-vclock/x86_64";
  target.vvar_vclock_pages = {2, catalog::Source::Synthetic};
  auto s = subject_from_entry(cat(), entry("6.1.0-47-amd64/x86_64"));
  REQUIRE(s);
  auto o = evaluate(*s, target, *find_restorer("criu-4.2"));
  REQUIRE(o.verdict == Verdict::Retargetable);
  REQUIRE(o.retarget);
  CHECK(o.retarget->vvar_size == 6 * 4096);
  CHECK(o.retarget->vvar_start + o.retarget->vvar_size == s->vdso_vma->start);
  CHECK(has(o, "VK006"));
  // The same with the range below the vdso taken: no retarget, a proxy.
  auto busy = *s;
  busy.vmas.push_back(Vma{s->vdso_vma->start - 6 * 4096, s->vvar_vma->start, 0, 0, 0, 3, 0x22, 0x201});
  auto p = evaluate(busy, target, *find_restorer("criu-4.2"));
  CHECK(p.verdict == Verdict::Proxy);
  CHECK(has(p, "VK007"));
}

TEST_CASE("missing symbol: a patched name the target lacks (synthetic target without __vdso_getcpu)") {
  catalog::Entry target = entry("6.1.0-47-amd64/x86_64");
  std::erase_if(target.symbols, [](const catalog::Symbol& s) { return s.name == "__vdso_getcpu" || s.name == "getcpu"; });
  auto s = subject_from_entry(cat(), entry("5.10.0-32-amd64/x86_64"));
  REQUIRE(s);
  auto criu = evaluate(*s, target, *find_restorer("criu-4.2"));
  CHECK(criu.verdict == Verdict::Proxy);
  CHECK(has(criu, "VK004"));
  CHECK(criu.worst() == Severity::Error);
  auto rt = evaluate(*s, target, *find_restorer("vdsokit-runtime"));
  CHECK(!has(rt, "VK004"));   // left unpatched and reported, never a jump to a bad address
}

TEST_CASE("in place by CRIU's seven names while another export moved (synthetic: clock_getres shifted on the target)") {
  catalog::Entry target = entry("6.1.0-47-amd64/x86_64");
  for (auto& sym : target.symbols)
    if (sym.name == "__vdso_clock_getres" || sym.name == "clock_getres") sym.offset += 0x10;
  auto s = subject_from_entry(cat(), entry("6.1.0-47-amd64/x86_64"));
  REQUIRE(s);
  auto o = evaluate(*s, target, *find_restorer("criu-4.2"));
  CHECK(o.verdict == Verdict::Inplace);
  CHECK(has(o, "VK005"));
  auto rt = evaluate(*s, target, *find_restorer("vdsokit-runtime"));
  CHECK(rt.verdict == Verdict::Proxy);
}

TEST_CASE("blocked: pagemap schema 4.2 with a restorer <= 4.1, vvar without vdso, unreadable vdso") {
  auto set = criu::ImageSet::open(*open_directory(test::fixture("host-vdsoloop/images")));
  REQUIRE(set);
  auto host = catalog::host_entry(vdso::Abi::X86_64);
  REQUIRE_MESSAGE(host, (host ? "" : host.error().str()));
  auto c = check(*set, "host-vdsoloop", cat(), "host", *find_restorer("criu-4.1"));
  REQUIRE(c);
  CHECK(c->processes[0].outcome.verdict == Verdict::Blocked);
  CHECK(has(c->processes[0].outcome, "VK011"));
  auto legacy = criu::ImageSet::open(*open_directory(test::fixture("host-pagemap-legacy/images")));
  auto cl = check(*legacy, "legacy", cat(), "host", *find_restorer("criu-4.1"));
  REQUIRE(cl);
  CHECK(!has(cl->processes[0].outcome, "VK011"));

  auto s = subject_from_entry(cat(), entry("6.1.0-47-amd64/x86_64"));
  auto novdso = *s;
  novdso.vdso_vma.reset();
  auto o = evaluate(novdso, entry("6.1.0-47-amd64/x86_64"), *find_restorer("criu-4.2"));
  CHECK(o.verdict == Verdict::Blocked);
  CHECK(has(o, "VK012"));
  auto unreadable = *s;
  unreadable.vdso.reset();
  unreadable.vdso_error = "pages missing";
  CHECK(has(evaluate(unreadable, entry("6.1.0-47-amd64/x86_64"), *find_restorer("criu-4.2")), "VK015"));
}

TEST_CASE("predictions equal what upstream CRIU 4.2 did restoring the fixtures on their Linux 6.18.44 machine") {
  size_t checked = 0;
  for (const auto& name : test::fixture_sets()) {
    auto kv = test::known_values(name);
    if (!kv.contains("restore_truth")) continue;
    const auto& truth = kv["restore_truth"];
    CAPTURE(name);
    auto set = criu::ImageSet::open(*open_directory(test::fixture(name + "/" + kv["imgdir"].get<std::string>())));
    REQUIRE(set);
    auto c = check(*set, name, fixture_cat(), kFixtureHost, *find_restorer("criu-4.2"));
    REQUIRE_MESSAGE(c, (c ? "" : c.error().str()));
    const auto& o = c->processes[0].outcome;
    CHECK(std::string(verdict_name(o.verdict)) == truth["vdso_decision"].get<std::string>());
    CHECK(o.clocks_ok == truth["clock_ok"].get<bool>());
    CHECK(o.clock_getres_ok == truth["clock_getres_ok"].get<bool>());
    std::set<std::string> patched, unpatched;
    for (const auto& s : o.symbols) {
      if (s.fate == "redirected") {
        patched.insert(s.name);
        patched.insert(s.aliases.begin(), s.aliases.end());
      }
      if (s.fate == "old-code") unpatched.insert(s.name);
    }
    CHECK(patched == truth["proxy_patched_symbols"].get<std::set<std::string>>());
    CHECK(unpatched == truth["proxy_unpatched_symbols"].get<std::set<std::string>>());
    CHECK(c->exit_code() == (truth["clock_getres_ok"].get<bool>() ? kExitOk : kExitFindings));
    ++checked;
  }
  CHECK(checked == 4);
}

TEST_CASE("host fixtures that CRIU 4.2 remapped in place on the machine that dumped them (their READMEs)") {
  for (const char* dir : {"host-vdsoloop/images", "host-sleep/images", "host-incremental/dump", "host-pagemap-legacy/images",
                          "host-proxy-second-gen/images"}) {
    CAPTURE(dir);
    auto set = criu::ImageSet::open(*open_directory(test::fixture(dir)));
    REQUIRE(set);
    auto c = check(*set, dir, fixture_cat(), kFixtureHost, *find_restorer("criu-4.2"));
    REQUIRE(c);
    CHECK(c->processes[0].outcome.verdict == Verdict::Inplace);
    CHECK(c->exit_code() == kExitOk);
  }
}

TEST_CASE("the matrix covers every ordered pair and its diagonal is in place") {
  auto ms = build_matrices(cat(), {"x86_64", "i386", "x32"}, {"criu-4.2", "vdsokit-runtime"});
  REQUIRE(ms);
  REQUIRE(!ms->empty());
  for (const auto& m : *ms) {
    CAPTURE(m.abi);
    CAPTURE(m.restorer);
    REQUIRE(m.cells.size() == m.ids.size());
    for (size_t i = 0; i < m.ids.size(); ++i) {
      REQUIRE(m.cells[i].size() == m.ids.size());
      if (m.ids[i].rfind("synthetic", 0) != 0) CHECK(m.cells[i][i].verdict == Verdict::Inplace);
    }
  }
}
