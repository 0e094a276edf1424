"""Remote hosts through OpenSSH: DRIVER+ssh:// URIs.

    protocol.py   the length-framed JSON protocol, values and errors on the wire
    server.py     the far end: `pyvirsh --driver-stdio URI` serving one connection
    client.py     the near end: a driver whose every call is forwarded
    uri.py        DRIVER+ssh:// URIs: the ssh argv and the far end's URI
    controlpath.py  one shared ssh connection per host (ControlMaster), in a checked 0700 directory
    farserver.py  the warm far end: `pyvirsh --driver-serve URI`, bound to the ssh session that started it
    sharedserver.py the near end reaching the warm far end through the master's forwarding socket
"""
