#!/usr/bin/env python3
"""A real single-node Slurm cluster runs `vdsokit rewrite pagemap --to 4.1` as a job array of 4 tasks
over 240 units (image-set folders and .tar/.tar.gz/.tar.zst archives copied from the real fixtures),
one task is killed midway and resubmitted; the merged report must equal a single-process run on a
fresh copy of the same store, no unit may be rewritten twice or missed, and the stores must end
byte-identical.

munge, slurmctld and slurmd are Debian's (../shared/docs/slurm-local.md); their configs, keys, sockets,
state and logs live under --work in the build tree. Every daemon started here is stopped by its pid,
also on failure. Exit 77 (ctest: skipped) with the reason when the cluster cannot start; under CI=true
that is a failure.
"""
import argparse
import gzip
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

SKIP = 77
TASKS = 4

# Units of the store: set folders per fixture and archives per format (240 in all).
SET_FIXTURES = ["host-vdsoloop/images", "host-sleep/images", "xk-5.10.0-46-amd64/images",
                "xk-6.12.117+deb13-amd64/images", "xk-7.2.13+deb14-amd64/images", "xk-6.18.44-fc-v669/images",
                "host-proxy-second-gen/images", "host-pagemap-legacy/images"]   # the last is already 4.1: unchanged
SETS_PER_FIXTURE = 24      # 192 set folders
ARCHIVES_PER_FORMAT = 16   # 48 archives
ARCHIVE_FORMATS = ["tar", "tar.gz", "tar.zst"]


class Skip(Exception):
    pass


def log(*a):
    print("slurm_test:", *a, flush=True)


def run(cmd, env=None, check=True, timeout=60, **kw):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_store(fixtures, root):
    sets = os.path.join(root, "sets")
    archives = os.path.join(root, "archives")
    os.makedirs(sets)
    os.makedirs(archives)
    for i in range(SETS_PER_FIXTURE):
        for fx in SET_FIXTURES:
            dst = os.path.join(sets, f"node{i % 6}", f"{fx.split('/')[0]}-{i:03d}")
            shutil.copytree(os.path.join(fixtures, fx), dst, symlinks=True)
    paths = []
    for i in range(ARCHIVES_PER_FORMAT):
        for ext in ARCHIVE_FORMATS:
            dst = os.path.join(archives, f"ckpt-{i:03d}.{ext}")
            shutil.copyfile(os.path.join(fixtures, f"host-vdsoloop-podman/host-vdsoloop.{ext}"), dst)
            paths.append(dst)
    return [sets] + paths


def tree_digest(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                data = fh.read()
            if p.endswith(".gz"):
                data = gzip.decompress(data)   # the gzip header holds the time it was written
            out[os.path.relpath(p, root)] = hashlib.sha256(data).hexdigest()
    return out


class Cluster:
    """munged + slurmctld + slurmd, everything under `base`."""

    def __init__(self, base):
        self.base = base
        self.pids = {}          # name -> pid
        self.env = dict(os.environ)

    def pidfile(self, name):
        return os.path.join(self.base, f"{name}.pid")

    def start(self):
        for tool in ["munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"]:
            if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
                raise Skip(f"{tool} is not installed (Debian: slurm-wlm munge)")
        if os.geteuid() != 0:
            raise Skip("slurmd must run as root here (SlurmUser=root, single node)")
        os.makedirs(self.base)
        m = os.path.join(self.base, "munge")
        os.makedirs(m, mode=0o700)
        sock = os.path.join(m, "munge.socket")
        if len(sock) > 100:
            raise Skip(f"munge socket path too long for AF_UNIX: {sock}")
        key = os.path.join(m, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        r = run(["munged", "--force", f"--key-file={key}", f"--socket={sock}", f"--pid-file={self.pidfile('munged')}",
                 f"--log-file={m}/munged.log", f"--seed-file={m}/munged.seed"], check=False)
        if r.returncode != 0:
            raise Skip(f"munged did not start: {r.stderr.strip()}")
        self.pids["munged"] = self.wait_pid("munged")
        if not self.pids["munged"]:
            raise Skip("munged wrote no pid")
        r = subprocess.run(f"munge -S {sock} -n | unmunge -S {sock}", shell=True, capture_output=True, text=True)
        if "Success" not in r.stdout:
            raise Skip(f"munge does not work: {r.stdout}{r.stderr}")
        host = socket.gethostname().split(".")[0]
        conf = os.path.join(self.base, "slurm.conf")
        for d in ["state", "spool"]:
            os.makedirs(os.path.join(self.base, d))
        with open(conf, "w") as f:
            f.write(f"""ClusterName=vdsokittest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
StateSaveLocation={self.base}/state
SlurmdSpoolDir={self.base}/spool
SlurmctldPidFile={self.pidfile('slurmctld')}
SlurmdPidFile={self.pidfile('slurmd')}
SlurmctldLogFile={self.base}/slurmctld.log
SlurmdLogFile={self.base}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=2
NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} State=UNKNOWN
PartitionName=batch Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        self.conf = conf
        self.env["SLURM_CONF"] = conf
        for daemon in ["slurmctld", "slurmd"]:
            r = run([daemon, "-f", conf], env=self.env, check=False)
            if r.returncode != 0:
                raise Skip(f"{daemon} did not start: {r.stderr.strip()}")
            pid = self.wait_pid(daemon)
            if not pid:
                raise Skip(f"{daemon} wrote no pid file; log: {self.tail(daemon + '.log')}")
            self.pids[daemon] = pid
        for _ in range(60):
            r = run(["sinfo", "-h", "-o", "%T"], env=self.env, check=False)
            if "idle" in r.stdout:
                return
            time.sleep(0.5)
        raise Skip(f"the node never became idle: sinfo says {r.stdout.strip()!r} {r.stderr.strip()!r}; "
                   f"slurmd.log: {self.tail('slurmd.log')}")

    def wait_pid(self, name):
        """A daemon creates its pid file before it writes the pid: wait (5 s) for the number, not the file."""
        for _ in range(50):
            pid = self.read_pid(name)
            if pid:
                return pid
            time.sleep(0.1)
        return None

    def read_pid(self, name):
        """The pid in the daemon's pid file, or None while it is missing or still empty."""
        try:
            with open(self.pidfile(name)) as f:
                words = f.read().split()
        except OSError:
            return None
        return int(words[0]) if words and words[0].isdigit() else None

    def tail(self, name, n=5):
        try:
            with open(os.path.join(self.base, name)) as f:
                return " | ".join(f.read().splitlines()[-n:])
        except OSError:
            return "(none)"

    def squeue(self, job):
        r = run(["squeue", "-h", "-r", "-j", str(job), "-o", "%i %T"], env=self.env, check=False)
        return dict(line.split() for line in r.stdout.splitlines() if line.strip())

    def wait_job(self, job, timeout=150):
        t = time.time()
        while time.time() - t < timeout:
            if not self.squeue(job):
                return time.time() - t
            time.sleep(0.2)
        raise RuntimeError(f"job {job} still queued after {timeout} s: {self.squeue(job)}")

    def stepds(self):
        """slurmstepd processes of this cluster: they inherit slurmd's SLURM_CONF."""
        mine = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if not f.read().startswith(b"slurmstepd"):
                        continue
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if f"SLURM_CONF={self.conf}".encode() in f.read().split(b"\0"):
                        mine.append(int(pid))
            except OSError:
                pass
        return mine

    def stop(self):
        if "slurmctld" in self.pids:
            run(["scancel", "--user", "root"], env=self.env, check=False)
            t = time.time()
            while time.time() - t < 15:
                r = run(["squeue", "-h"], env=self.env, check=False)
                if r.returncode != 0 or not r.stdout.strip():
                    break
                time.sleep(0.3)
        leftovers = self.stepds() if hasattr(self, "conf") else []
        for name in ["slurmd", "slurmctld", "munged"]:
            # A daemon started but not yet recorded (start() failed reading its pid) has its pid file.
            pid = self.pids.get(name) or self.read_pid(name)
            if pid:
                self.kill(pid)
        for pid in leftovers + (self.stepds() if hasattr(self, "conf") else []):
            self.kill(pid)

    @staticmethod
    def kill(pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def report(vdsokit, files):
    r = run([vdsokit, "report", "--format", "json"] + files, check=False)
    if r.returncode not in (0, 1, 3, 4):
        raise RuntimeError(f"report failed: {r.stderr}")
    return json.loads(r.stdout), r.returncode


def comparable(rep):
    rep = dict(rep)
    rep.pop("run")
    units = []
    for u in rep["units"]:
        u = {k: v for k, v in u.items() if k not in ("started", "seconds", "shard", "resumed")}
        # The task resubmitted after the kill also reports the temporaries of the killed attempt it cleaned
        # up (rewriters/transaction): a recovery note a single run cannot have, not a different result.
        recovery = lambda text: "left by an interrupted run" in text
        u["findings"] = [f for f in u.get("findings", []) if not recovery(f.get("message", ""))]
        if isinstance(u.get("detail"), dict) and "notes" in u["detail"]:
            u["detail"] = dict(u["detail"], notes=[n for n in u["detail"]["notes"] if not recovery(n)])
        units.append(u)
    rep["units"] = units
    return rep


def lines(path):
    with open(path, "rb") as f:
        data = f.read()
    return [l for l in data.split(b"\n")[:-1] if l.strip()]


def bench(a):
    """Throughput of the array against one process (not a test: prints numbers)."""
    vdsokit = os.path.abspath(a.vdsokit)
    work = os.path.abspath(a.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    cluster = Cluster(os.path.join(work, "cluster"))
    try:
        store = os.path.join(work, "store")
        inputs = make_store(a.fixtures, store)
        make_store(a.fixtures, os.path.join(work, "pristine"))
        cluster.start()
        command = ["rewrite", "pagemap", "--to", "4.1"] + inputs
        t = time.time()
        r = run([vdsokit, "batch", "slurm", "--dir", os.path.join(work, "job"), "--tasks", str(TASKS), "--submit", "--"]
                + command, env=cluster.env)
        cluster.wait_job(r.stdout.strip())
        array_wall = time.time() - t
        out = os.path.join(work, "job", "out")
        merged, _ = report(vdsokit, [os.path.join(out, f) for f in os.listdir(out)])
        os.rename(store, os.path.join(work, "store.array"))
        os.rename(os.path.join(work, "pristine"), store)
        t = time.time()
        with open(os.path.join(work, "single.jsonl"), "w") as f:
            subprocess.run([vdsokit] + command + ["--format", "jsonl", "--state", os.path.join(work, "state1")],
                           stdout=f, check=False)
        single_wall = time.time() - t
        n = merged["summary"]["units"]
        print(f"units {n}: one process {single_wall:.2f} s ({n / single_wall:.0f} units/s); "
              f"4-task array {array_wall:.2f} s submit to done ({n / array_wall:.0f} units/s), "
              f"{merged['run']['wall_seconds']:.2f} s first unit to last ({n / merged['run']['wall_seconds']:.0f} units/s), "
              f"busy {merged['run']['busy_seconds']:.2f} s")
        return 0
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vdsokit", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--bench", action="store_true",
                    help="no kill: time the 4-task array against one process on the same store and print both")
    a = ap.parse_args()
    if a.bench:
        return bench(a)
    vdsokit = os.path.abspath(a.vdsokit)
    work = os.path.abspath(a.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    cluster = Cluster(os.path.join(work, "cluster"))
    ok = False
    try:
        t0 = time.time()
        store = os.path.join(work, "store")
        inputs = make_store(a.fixtures, store)
        make_store(a.fixtures, os.path.join(work, "pristine"))
        log(f"store: {SETS_PER_FIXTURE * len(SET_FIXTURES)} set folders + {len(inputs) - 1} archives "
            f"({time.time() - t0:.1f} s to copy twice)")
        try:
            t = time.time()
            cluster.start()
            log(f"cluster up in {time.time() - t:.1f} s")
        except Skip as e:
            if os.environ.get("CI") == "true":
                log(f"FAIL (CI=true): Slurm cannot start: {e}")
                return 1
            log(f"SKIP: {e}")
            return SKIP
        command = ["rewrite", "pagemap", "--to", "4.1"] + inputs
        jobdir = os.path.join(work, "job")
        t_submit = time.time()
        r = run([vdsokit, "batch", "slurm", "--dir", jobdir, "--tasks", str(TASKS), "--submit", "--"] + command,
                env=cluster.env)
        job = r.stdout.strip()
        assert job.isdigit(), f"batch slurm printed {r.stdout!r}"
        log(f"submitted array job {job}")
        out = os.path.join(jobdir, "out")

        # Kill one task midway: the first running task with a few records written and more to do.
        victim, killed_at = None, 0
        deadline = time.time() + 120
        while victim is None and time.time() < deadline:
            states = cluster.squeue(job)
            for task in range(TASKS):
                path = os.path.join(out, f"{job}_{task}.jsonl")
                if states.get(f"{job}_{task}") != "RUNNING" or not os.path.exists(path):
                    continue
                n = len(lines(path))
                if n >= 10:   # midway: a shard holds about 60 units
                    run(["scancel", "--signal=KILL", "--full", f"{job}_{task}"], env=cluster.env)
                    victim, killed_at = task, n
                    break
            time.sleep(0.05)
        assert victim is not None, "no task ran long enough to be killed midway"
        cluster.wait_job(job)   # every task of the array, the killed one included
        array_wall = time.time() - t_submit
        killed_out = os.path.join(out, f"{job}_{victim}.jsonl")
        killed_lines = len(lines(killed_out))
        log(f"killed task {victim} after {killed_at} records ({killed_lines} when it died); array done in {array_wall:.1f} s")

        partial, rc = report(vdsokit, [os.path.join(out, f) for f in sorted(os.listdir(out))])
        assert partial["summary"]["missing"], "the killed task left no unit missing: it was not killed midway"
        assert rc == 3, f"report with units missing exits {rc}, not 3"
        log(f"before the resubmission: {len(partial['summary']['missing'])} units missing, report exit {rc}")

        # Resubmit the killed task alone: it keeps its shard (VDSOKIT_SHARD_COUNT in job.sh).
        t = time.time()
        r = run(["sbatch", "--parsable", f"--array={victim}", os.path.join(jobdir, "job.sh")], env=cluster.env)
        job2 = r.stdout.strip().split(";")[0]
        cluster.wait_job(job2)
        rerun_wall = time.time() - t
        rerun_out = os.path.join(out, f"{job2}_{victim}.jsonl")
        rerun = [json.loads(l) for l in lines(rerun_out)]
        resumed = sum(1 for x in rerun if x["resumed"])
        redone = len(rerun) - resumed
        rerun_busy = sum(x["seconds"] for x in rerun)
        log(f"resubmitted task {victim} as job {job2}: {len(rerun)} units, {resumed} taken from the state, "
            f"{redone} done now; {rerun_wall:.1f} s wall, {rerun_busy:.2f} s busy")
        done_before = set()
        for l in lines(killed_out):
            try:
                x = json.loads(l)
            except ValueError:
                continue   # a torn last line
            if x["status"] == "rewritten":
                done_before.add(x["key"])
        skipped = {x["key"] for x in rerun if x["resumed"]}
        # Every unit the killed attempt reported rewritten is skipped; at most one more (rewritten, its
        # record not yet written when the kill came) is recognised as completed from its pending state.
        assert done_before <= skipped and len(skipped - done_before) <= 1, (sorted(done_before), sorted(skipped))

        files = [os.path.join(out, f) for f in sorted(os.listdir(out))]
        merged, merged_rc = report(vdsokit, files)
        s = merged["summary"]
        assert s["total"] == len(inputs) - 1 + SETS_PER_FIXTURE * len(SET_FIXTURES) == s["units"] >= 200, s
        assert not s["missing"], f"missed units: {s['missing']}"
        assert not s["rewritten_twice"], f"units rewritten twice: {s['rewritten_twice']}"
        assert merged["run"]["superseded"] >= killed_at, merged["run"]
        # Every record that says a unit was rewritten in that run (not resumed) is one rewrite: one per unit.
        rewrites = {}
        for f in files:
            for l in lines(f):
                try:
                    x = json.loads(l)
                except ValueError:
                    continue   # the killed task's torn last line
                if x["status"] == "rewritten" and not x["resumed"]:
                    rewrites[x["key"]] = rewrites.get(x["key"], 0) + 1
        assert all(n == 1 for n in rewrites.values()), "a unit was rewritten twice"

        # One process over a fresh copy at the same path.
        os.rename(store, os.path.join(work, "store.array"))
        os.rename(os.path.join(work, "pristine"), store)
        t = time.time()
        single_out = os.path.join(work, "single.jsonl")
        with open(single_out, "w") as f:
            r = subprocess.run([vdsokit] + command + ["--format", "jsonl"], stdout=f, stderr=subprocess.PIPE, text=True,
                               timeout=180)
        single_wall = time.time() - t
        single, single_rc = report(vdsokit, [single_out])
        assert r.returncode == single_rc == merged_rc, (r.returncode, single_rc, merged_rc)
        if comparable(merged) != comparable(single):
            a, b = comparable(merged), comparable(single)
            for k in set(a) | set(b):
                if k != "units" and a.get(k) != b.get(k):
                    print("slurm_test: differs in", k, a.get(k), "vs", b.get(k))
            for x, y in zip(a["units"], b["units"]):
                if x != y:
                    print("slurm_test: unit", x.get("key"), "differs (array vs single run):")
                    for k in sorted(set(x) | set(y)):
                        if x.get(k) != y.get(k):
                            print(f"  {k}: {json.dumps(x.get(k))[:400]}\n  vs {json.dumps(y.get(k))[:400]}")
                    break
        assert comparable(merged) == comparable(single), "merged report differs from the single run's"
        one, arr = tree_digest(store), tree_digest(os.path.join(work, "store.array"))
        differ = sorted(k for k in set(one) | set(arr) if one.get(k) != arr.get(k))
        assert not differ, f"stores differ after the runs: {differ[:10]}"
        by = s["by_status"]
        n = s["units"]
        log(f"merged report == single run: {n} units {by}, exit {merged_rc}")
        log(f"throughput: single process {n / single_wall:.0f} units/s ({single_wall:.2f} s); "
            f"4-task array {n / array_wall:.0f} units/s ({array_wall:.2f} s submit to last task, "
            f"{merged['run']['wall_seconds']:.2f} s first unit to last, with the kill); "
            f"re-run of the killed task {rerun_wall:.2f} s ({resumed} skipped, {redone} redone)")
        ok = True
        return 0
    finally:
        cluster.stop()
        if not ok:
            for name in ["slurmctld.log", "slurmd.log"]:
                log(f"{name}: {cluster.tail(name, 15)}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
