"""Speed against peers and harness overhead (`bench perf`)."""
