"""The backing-chain model and libvirt's chain probe.

``probe_chain`` walks a disk's image chain the way libvirt's
virStorageSourceGetMetadata does, with the same security rules:

* the top image's format is the one the domain XML gives (the caller passes
  "raw" when the XML has none); it is never guessed;
* each backing image's format is the one its parent's header records;
* when the parent records none, the backing image's magic may be probed, but
  only if that image names no backing file of its own: a guest can write a
  qcow2 header into a raw disk and name any host file as its "backing file";
* relative backing names resolve against the directory of the referencing
  image as named (no symlink resolution; QEMU does the same);
* loops and chains deeper than *max_depth* are refused.
"""

from __future__ import annotations

import os
import stat as _stat

from ..api import DriverError, ErrorCode
from . import probe as _probe
from .probe import FORMATS

MAX_DEPTH = 200     # libvirt's QEMU_DOMAIN_STORAGE_SOURCE_CHAIN_MAX_DEPTH

_UNRECORDED = ("format of backing image '%s' of image '%s' was not specified in the image "
               "metadata (See https://libvirt.org/kbase/backing_chains.html for troubleshooting)")

# Formats a header may record for its backing image and pyvirsh can use.
_USABLE_BACKING = frozenset(FORMATS) - {"none", "dir"}


class ChainLayer:
    """One image of a disk's backing chain.

    path            absolute path as used to open it
    format          format name (from FORMATS)
    backing_name    backing file name exactly as stored in this image's header, or None
    backing_format  backing format this header records, or None (not recorded)
    virtual_size    bytes (None where unknown)
    data_file       qcow2 external data file, resolved to a path, or None
    data_file_name  the data file name exactly as stored, or None
    type            "file", "block" or "dir" (from stat)
    probed          True if the format was found by magic probing
    header          the full ImageHeader (cluster size, encryption, compat, ...)
    """

    __slots__ = ("path", "format", "backing_name", "backing_format", "virtual_size",
                 "data_file", "data_file_name", "type", "probed", "header")

    def __init__(self, path, format, header, type="file", probed=False, data_file=None):
        self.path = path
        self.format = format
        self.header = header
        self.backing_name = header.backing_name
        self.backing_format = header.backing_format
        self.virtual_size = header.virtual_size
        self.data_file_name = header.data_file
        self.data_file = data_file
        self.type = type
        self.probed = probed

    @property
    def cluster_size(self):
        return self.header.cluster_size

    @property
    def encrypted(self):
        return self.header.encrypted

    def __repr__(self):
        return ("ChainLayer(path=%r, format=%r, backing_name=%r, backing_format=%r, "
                "virtual_size=%r, data_file=%r, type=%r)"
                % (self.path, self.format, self.backing_name, self.backing_format,
                   self.virtual_size, self.data_file, self.type))


def non_local_protocol(name: str) -> str | None:
    """The protocol of a backing name that is not a plain local file, else None.

    ``json:{...}`` and ``proto:...`` (a colon before any slash, as QEMU decides
    it, e.g. ``nbd:host:10809`` or ``http://host/x``) are not local files.
    """
    if name.startswith("json:"):
        return "json"
    colon = name.find(":")
    if colon > 0:
        slash = name.find("/")
        if slash < 0 or colon < slash:
            return name[:colon]
    return None


def _resolve(image: str, name: str) -> str:
    """A file name stored in *image*'s header, as a path. A relative name resolves
    against the directory of the image as named (os.path.dirname, no symlink
    resolution, no normalisation: QEMU's rule for backing files)."""
    return name if name.startswith("/") else os.path.join(os.path.dirname(image), name)


def _quote(word: str) -> str:
    import shlex      # only on this error path
    return shlex.quote(word)


def _access_error(e: OSError, path: str, top: str | None) -> DriverError:
    reason = _probe.os_reason(e)
    if top is None:
        msg = "Cannot access storage file '%s' (as uid:%u, gid:%u): %s" % (
            path, os.getuid(), os.getgid(), reason)
    else:
        # libvirt names the disk's top image as the "storage file", not the
        # immediate parent (virStorageSourceReportBrokenChain gets the root).
        msg = "Cannot access backing file '%s' of storage file '%s' (as uid:%u, gid:%u): %s" % (
            path, top, os.getuid(), os.getgid(), reason)
    return DriverError(ErrorCode.SYSTEM_ERROR, msg)


def probe_chain(path: str, fmt: str | None, disk: str = "vda",
                max_depth: int = MAX_DEPTH) -> list[ChainLayer]:
    """Probe the chain whose top is *path* in format *fmt*; return the layers, top first.

    *fmt* is the XML's ``<driver type>``; None or "" is taken as raw (never probed).
    Raises DriverError with libvirt's messages (see the module docstring).
    """
    if not fmt:
        fmt = "raw"
    if fmt not in FORMATS or fmt == "none":
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                          "unknown storage format '%s' for image '%s'" % (fmt, path))
    if not os.path.isabs(path):
        path = os.path.abspath(path)
    top = path
    layers: list[ChainLayer] = []
    seen = set()
    parent: ChainLayer | None = None    # the layer whose header named cur_path
    cur_path, cur_fmt = path, fmt
    open_image, header_from_fd, fstat, close = _probe.open_image, _probe.header_from_fd, os.fstat, os.close

    while True:
        if len(layers) >= max_depth:
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED,
                              "backing chains more than %d layers deep are not supported for disk '%s'"
                              % (max_depth, disk))
        try:
            fd = open_image(cur_path)
        except OSError as e:
            raise _access_error(e, cur_path, None if parent is None else top) from None
        probed = cur_fmt is None
        try:
            st = fstat(fd)
            key = (st.st_dev, st.st_ino)
            if key in seen:
                assert parent is not None       # the top is the first file seen
                raise DriverError(ErrorCode.INTERNAL_ERROR,
                                  "backing store for %s is self-referential or too deeply nested"
                                  % parent.path)
            seen.add(key)
            mode = st.st_mode
            if _stat.S_ISREG(mode):
                kind = "file"
            elif _stat.S_ISBLK(mode):
                kind = "block"
            elif _stat.S_ISDIR(mode):
                kind = "dir"
            else:
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                  "'%s' is not a regular file or block device" % cur_path)
            buf = None
            if probed:
                if kind == "dir":
                    cur_fmt = "dir"
                else:
                    buf = _probe._pread(fd, cur_path, _probe.FIRST_READ, 0)
                    cur_fmt = _probe.detect_from_fd(fd, cur_path, buf)
            header = header_from_fd(fd, cur_path, cur_fmt, st, buf)
        finally:
            close(fd)

        if probed and header.backing_name is not None:
            # libvirt: a probed image must not lead any further down the chain.
            assert parent is not None           # the top's format is given, never probed
            msg = _UNRECORDED % (parent.backing_name, parent.path)
            msg += (" If '%s' is trusted and really is a %s image, record its format with: "
                    "qemu-img rebase -u -f %s -F %s -b %s %s"
                    % (cur_path, cur_fmt, parent.format, cur_fmt,
                       _quote(parent.backing_name), _quote(parent.path)))
            raise DriverError(ErrorCode.OPERATION_INVALID, msg)

        data_file = None
        if header.data_file is not None:
            name = header.data_file
            proto = non_local_protocol(name)
            if proto is not None:
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                  "external data file '%s' of image '%s' is not a local file "
                                  "(protocol '%s')" % (name, cur_path, proto))
            # A relative data file name is resolved against the image's own
            # directory, like a backing name.  (QEMU 7.2 resolves it against its
            # CWD instead, so pyvirsh always hands QEMU the absolute path.)
            data_file = _resolve(cur_path, name)

        layer = ChainLayer(cur_path, cur_fmt, header, kind, probed, data_file)
        layers.append(layer)

        name = header.backing_name
        if name is None:
            return layers
        proto = non_local_protocol(name)
        if proto is not None:
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                              "backing store '%s' of image '%s' is not a local file (protocol '%s'); "
                              "pyvirsh only supports local backing files" % (name, cur_path, proto))
        bfmt = header.backing_format
        if bfmt is not None and bfmt not in _USABLE_BACKING:
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                              "image '%s' records unsupported format '%s' for its backing image '%s'"
                              % (cur_path, bfmt, name))
        parent = layer
        cur_path = _resolve(cur_path, name)
        cur_fmt = bfmt


__all__ = ["MAX_DEPTH", "ChainLayer", "non_local_protocol", "probe_chain"]
