"""Developer tools shared by the tests and the benchmark scripts (an X server with known content to
capture, the machine description and the sections of docs/benchmarks/). The runtime never imports
this package: it is here so that tests and scripts import it by name, without editing sys.path."""
