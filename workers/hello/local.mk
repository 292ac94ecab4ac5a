# workers/hello: holdfast-hello, the smallest worker (docs/adding-a-worker.md).
pkglibexec_PROGRAMS += workers/hello/holdfast-hello
workers_hello_holdfast_hello_SOURCES = workers/hello/hello.c
workers_hello_holdfast_hello_LDADD = $(WORKER_LIBS)

# Its test: holdfastd runs it from its section and sees it ready.
TEST_PROGS += workers/hello/test_hello
TESTS += workers/hello/test_hello
workers_hello_test_hello_SOURCES = workers/hello/test_hello.c
workers_hello_test_hello_CFLAGS = $(TEST_CFLAGS)
workers_hello_test_hello_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
