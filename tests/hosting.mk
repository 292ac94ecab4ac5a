# tests of production hosting (systemd notify, PID 1 in a container, two
# hosts on one PostgreSQL) and of the security review (docs/deployment.md).
TEST_PROGS += tests/integration/test_hosting
TESTS += tests/integration/test_hosting
tests_integration_test_hosting_SOURCES = tests/integration/test_hosting.c
tests_integration_test_hosting_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_hosting_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

# The security review: source rules (SQL parameterised, constant-time
# compares) and the behaviour of the running system.
TESTS += tests/integration/test_security_grep.sh
EXTRA_DIST += tests/integration/test_security_grep.sh
TEST_PROGS += tests/integration/test_security
TESTS += tests/integration/test_security
tests_integration_test_security_SOURCES = tests/integration/test_security.c
tests_integration_test_security_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_security_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

# Two holdfastd trees sharing one PostgreSQL (signed webhooks: libcrypto).
TEST_PROGS += tests/integration/test_hosting_multi
TESTS += tests/integration/test_hosting_multi
tests_integration_test_hosting_multi_SOURCES = tests/integration/test_hosting_multi.c
tests_integration_test_hosting_multi_CFLAGS = $(TEST_CFLAGS) $(CRYPTO_CFLAGS)
tests_integration_test_hosting_multi_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS) $(CRYPTO_LIBS)

# The deployment guide and its Kubernetes manifests ship in the tarball.
EXTRA_DIST += docs/deployment.md docs/k8s/configmap.yaml docs/k8s/secret.yaml \
	docs/k8s/deployment.yaml docs/k8s/service.yaml
