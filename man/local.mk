# man/: holdfastd(8), holdfastctl(1), holdfast.conf(5).
