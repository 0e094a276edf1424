"""vol-upload and vol-download: a volume's bytes to and from a local file.

A module of their own, apart from the other storage commands (storage.py): a one-shot copy
loads only what it runs, and the copy is most of what it costs."""

from __future__ import annotations

from ..declare import command, data, flag, number
from ..errors import CommandError
from .. import values
from .storagelookup import lookup_volume
from .storagelookup import pool_option as _pool_opt
from .storagelookup import vol_option as _vol_option


@command("vol-upload", "Upload file contents to a volume")
@_vol_option()
@data("file", "file", completer="files")
@_pool_opt()
@number("offset", "volume offset to upload to")
@number("length", "amount of data to upload")
@flag("sparse", "preserve sparseness of volume")
def vol_upload(ctl, vol, file, pool, offset, length, sparse):
    import os

    from ..drivers.api import DriverError, VolStreamFlags

    start = values.integer("offset", offset, 0, values.ULLONG_MAX) or 0
    count = values.integer("length", length, 0, values.ULLONG_MAX) or 0
    v = lookup_volume(ctl, vol, pool)
    try:
        os.close(os.open(file, os.O_RDONLY))
    except OSError:
        raise CommandError("cannot read %s" % file) from None
    try:
        v.upload(file, start, count, VolStreamFlags.SPARSE_STREAM if sparse else 0)
    except DriverError as err:
        raise CommandError(_stream_failure("cannot upload to volume", "cannot send data to volume", err)
                           + " " + vol, str(err)) from None
    return True


def _stream_failure(opening: str, moving: str, err) -> str:
    """virsh's words for a failed upload or download: a driver without the call fails while
    the stream opens, any other failure is the data's (one call does both here)."""
    from ..drivers.api import ErrorCode

    return opening if err.code is ErrorCode.NO_SUPPORT else moving


@command("vol-download", "Download volume contents to a file")
@_vol_option()
@data("file", "file", completer="files")
@_pool_opt()
@number("offset", "volume offset to download from")
@number("length", "amount of data to download")
@flag("sparse", "preserve sparseness of volume")
def vol_download(ctl, vol, file, pool, offset, length, sparse):
    import os

    from ..drivers.api import DriverError, VolStreamFlags

    start = values.integer("offset", offset, 0, values.ULLONG_MAX) or 0
    count = values.integer("length", length, 0, values.ULLONG_MAX) or 0
    v = lookup_volume(ctl, vol, pool)
    created = True
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        created = False
        try:
            fd = os.open(file, os.O_WRONLY | os.O_TRUNC)
        except OSError:
            raise CommandError("cannot create %s" % file) from None
    except OSError:
        raise CommandError("cannot create %s" % file) from None
    try:
        v.download(fd, start, count, VolStreamFlags.SPARSE_STREAM if sparse else 0)
    except DriverError as err:
        os.close(fd)
        if created:
            os.unlink(file)
        raise CommandError(_stream_failure("cannot download from volume", "cannot receive data from volume", err)
                           + " " + vol, str(err)) from None
    os.close(fd)
    return True
