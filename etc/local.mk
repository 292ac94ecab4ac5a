# etc/: the documented example config, the systemd unit, the schema.
