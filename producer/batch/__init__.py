"""One batch: submit, collect, recover, summarise."""
