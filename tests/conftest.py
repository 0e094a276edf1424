import os
import sys

# tests/ holds helper modules (difftool, qemu fixtures) imported by the tests.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest

# The modules that take longest, longest first (seconds of a serial run on a loaded machine,
# load average 6 to 17, from --durations and the times between modules).
# The README's test command runs the suite in two pytest-xdist workers, a whole module to a
# worker (`--dist loadfile`: a module-scoped guest, sshd hosts or namespace is made once) in
# collection order (`--no-loadscope-reorder`); these are moved to the front of that order, so
# that a long module never starts last while the other worker has nothing left to do.
LONGEST_MODULES = (
    "test_kill_sweep.py",       # 403 s with the next
    "test_kill_sweep_snapshots.py",
    "test_remote_ssh.py",       # 365 s
    "test_snapshots.py",        # 171 s
    "test_stress.py",           # 145 s
    "test_hotplug.py",
    "test_guests.py",
    "test_qemu_networks.py",    # 123 s
    "test_qemu_driver.py",      # 109 s
    "test_qemu_savestate.py",   # 105 s
    "test_qemu_volumes.py",     # 96 s
)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {name: i for i, name in enumerate(LONGEST_MODULES)}
        # a stable sort: a module's own tests, and the other modules, keep their order
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture
def env(tmp_path):
    """An embedded QEMU driver in a fresh directory; every QEMU it started is stopped after the test."""
    from qemuhelp import Env
    e = Env(tmp_path)
    try:
        yield e
    finally:
        e.cleanup()


def _sparse_copy(source: str, target: str) -> None:
    """Copy only the data extents, so the copy allocates what the original does (domblkinfo reads it)."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        size = os.fstat(src.fileno()).st_size
        offset = 0
        while offset < size:
            try:
                offset = os.lseek(src.fileno(), offset, os.SEEK_DATA)
            except OSError:         # ENXIO: nothing but a hole up to the end
                break
            end = os.lseek(src.fileno(), offset, os.SEEK_HOLE)
            while offset < end:
                chunk = os.pread(src.fileno(), min(end - offset, 1 << 20), offset)
                os.pwrite(dst.fileno(), chunk, offset)
                offset += len(chunk)
        dst.truncate(size)


class ChainTemplates:
    """qcow2 chains made once per session with qemuhelp.make_chain (and write_patterns), copied per test.

    A copy is the same image byte for byte except for the backing file names in
    the overlays' headers, which `qemu-img rebase -u` points at the copies (with
    the backing format recorded, as make_chain does). Copying a file and
    rewriting a header costs a fraction of creating the chain and writing the
    patterns with qemu-io for every test.
    """

    class _Folder:
        """The one thing make_chain asks of an Env: where an image of that name goes."""

        def __init__(self, path: str):
            self.path = lambda name: os.path.join(path, name)

    def __init__(self, directory: str):
        self.directory = directory
        self.templates: dict[tuple, list[str]] = {}

    def template(self, layers: int, size: str, fmt: str, patterns: bool) -> list[str]:
        key = (layers, size, fmt, patterns)
        if key not in self.templates:
            from qemuhelp import make_chain, write_patterns
            folder = os.path.join(self.directory, "%d-%s-%s-%s" % key)
            os.makedirs(folder)
            paths = make_chain(self._Folder(folder), ["layer%d" % k for k in range(layers)], size, fmt)
            if patterns:
                write_patterns(paths)
            self.templates[key] = paths
        return self.templates[key]

    def copy(self, env, names: list[str], size: str = "64M", fmt: str = "qcow2",
             patterns: bool = False) -> list[str]:
        from qemuhelp import qemu_img
        paths = [env.path(name) for name in names]
        for source, copy in zip(self.template(len(names), size, fmt, patterns), paths):
            _sparse_copy(source, copy)
        for k in range(1, len(paths)):
            backing_format = fmt if k == 1 else "qcow2"
            qemu_img("rebase", "-u", "-f", "qcow2", "-b", paths[k - 1], "-F", backing_format, paths[k])
        return paths


@pytest.fixture(scope="session")
def chain_templates(tmp_path_factory):
    return ChainTemplates(str(tmp_path_factory.mktemp("chain-templates")))


@pytest.fixture
def qcow2_chain(env, chain_templates):
    """make_chain(env, names, size, fmt) (then write_patterns when patterns=True), from session copies.

        paths = qcow2_chain(["base.qcow2", "mid.qcow2", "top.qcow2"], patterns=True)
    """
    def make(names: list[str], size: str = "64M", fmt: str = "qcow2", patterns: bool = False) -> list[str]:
        return chain_templates.copy(env, names, size, fmt, patterns)
    return make
