# etc/: the documented example config, the systemd unit, the schema.
# The example is installed as documentation, not into sysconfdir: an
# install must never overwrite an operator's holdfast.conf.
dist_doc_DATA = etc/holdfast.conf
EXTRA_DIST += $(srcdir)/etc/schema/*.sql
EXTRA_DIST += etc/holdfast.service
