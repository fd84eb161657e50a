#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, from the real fixtures (../shared/fixtures/criu) and the committed
kernel corpus (corpora/). Usage: mkseed.py FIXTURES CORPORA OUT. Writes OUT/<target>/<name> and OUT/.stamp.
Seeds marked 'synthetic' are built here (a bzImage/.deb around a real vDSO): no real kernel package is
small enough to be a seed."""
import gzip, io, os, struct, sys, tarfile

fixtures, corpora, out = sys.argv[1:4]


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name.replace('/', '_')), 'wb') as f:
        f.write(data)


def read(p):
    with open(p, 'rb') as f:
        return f.read()


def memtree(folder, pages_limit=1 << 20):
    """fuzz_util.h MemTree layout: u8 name length, name, u32 LE length, bytes."""
    blob = b''
    for name in sorted(os.listdir(folder)):
        p = os.path.join(folder, name)
        if name == 'parent' and os.path.islink(p):
            continue
        if not os.path.isfile(p):
            continue
        data = read(p)
        if name.startswith('pages-') and len(data) > pages_limit:
            continue
        blob += bytes([len(name)]) + name.encode() + struct.pack('<I', len(data)) + data
    return blob


sets = []
for root, dirs, files in os.walk(fixtures):
    if 'inventory.img' in files:
        sets.append(root)
sets.sort()
for s in sets:
    label = os.path.relpath(s, fixtures).replace('/', '_')
    tree = memtree(s)
    parent = os.path.join(s, 'parent')
    if os.path.isdir(parent):
        tree += b'\0PARENT\0' + memtree(os.path.realpath(parent))
    put('imageset', label, tree)
    put('pages', label, tree)
    for name in sorted(os.listdir(s)):
        p = os.path.join(s, name)
        if os.path.isfile(p) and name.endswith('.img') and not name.startswith('pages-'):
            put('image', label + '_' + name, read(p))

for root, dirs, files in os.walk(fixtures):
    for name in sorted(files):
        p = os.path.join(root, name)
        rel = os.path.relpath(p, fixtures).replace('/', '_')
        if name.endswith('.json') and '/crit' in root and os.path.getsize(p) < 64 << 10:
            put('crit_json', rel, read(p))
        if name.startswith('maps') and name.endswith('.txt'):
            put('procmaps', rel, read(p))
        if name.endswith(('.tar', '.tar.gz', '.tar.zst')):
            put('archive', rel, read(p))

kern = os.path.join(corpora, 'kernels')
vdsos = []
for rel in sorted(os.listdir(kern)):
    for so in ('x86_64.so', 'i386.so', 'x32.so'):
        p = os.path.join(kern, rel, so)
        if os.path.isfile(p):
            vdsos.append((rel + '_' + so, read(p)))
for name, data in vdsos[::4]:   # every 4th build: the targets learn the rest by mutation
    put('vdso', name, data)

cat = read(os.path.join(corpora, 'catalog.yaml'))
put('catalog', 'catalog.yaml', cat)
# The first two entries alone, a small seed that mutates faster.
text = cat.decode()
cut = [i for i in range(len(text)) if text.startswith('\n  - id:', i)]
if len(cut) > 2:
    put('catalog', 'catalog-head.yaml', text[:cut[2]].encode())

# Synthetic (labelled): a vmlinux-like blob holding two real vDSOs, a bzImage around its gzip, a .deb.
vmlinux = b'\0' * 4096 + vdsos[0][1] + b'\0' * 512 + vdsos[1][1] + b'\0' * 512
put('kernel', 'synthetic-vmlinux', vmlinux)
payload = gzip.compress(vmlinux, mtime=0) + struct.pack('<I', len(vmlinux))
setup_sects = 1
pm = (setup_sects + 1) * 512
hdr = bytearray(pm)
hdr[0x1f1] = setup_sects
hdr[0x202:0x206] = b'HdrS'
hdr[0x206:0x208] = struct.pack('<H', 0x020f)
hdr[0x248:0x24c] = struct.pack('<I', 0)
hdr[0x24c:0x250] = struct.pack('<I', len(payload))
bz = bytes(hdr) + payload
put('kernel', 'synthetic-bzimage', bz)
tbuf = io.BytesIO()
with tarfile.open(fileobj=tbuf, mode='w:gz') as tf:
    ti = tarfile.TarInfo('./boot/vmlinuz-6.1.0-synthetic-amd64')
    ti.size = len(bz)
    tf.addfile(ti, io.BytesIO(bz))
data_tar = tbuf.getvalue()


def ar_member(name, data):
    h = (name.ljust(16) + '0'.ljust(12) + '0'.ljust(6) + '0'.ljust(6) + '100644'.ljust(8) +
         str(len(data)).ljust(10) + '`\n').encode()
    return h + data + (b'\n' if len(data) % 2 else b'')


deb = b'!<arch>\n' + ar_member('debian-binary', b'2.0\n') + ar_member('data.tar.gz', data_tar)
put('kernel', 'synthetic-deb', deb)

os.makedirs(out, exist_ok=True)
with open(os.path.join(out, '.stamp'), 'w') as f:
    f.write('ok\n')
