# man/: holdfastd(8), holdfastctl(1), holdfast-admin(1), holdfast.conf(5).
dist_man_MANS += man/holdfast.conf.5
dist_man_MANS += man/holdfastd.8 man/holdfastctl.1
dist_man_MANS += man/holdfast-admin.1
# libhf: the public client library
dist_man_MANS += man/holdfast-worker.3
