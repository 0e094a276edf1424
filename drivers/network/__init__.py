"""Virtual networks: the definition (netdef), its updates (netupdate), the list filter,
and the host parts a running network is made of (bridge, dnsmasq, firewall rules)."""
