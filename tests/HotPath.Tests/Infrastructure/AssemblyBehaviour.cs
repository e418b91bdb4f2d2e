// Tests run one at a time. Many of them measure process-wide state (open fds, memfd mappings, RSS, allocated
// bytes) or start polling peers that need a core each on a 2-core machine; a test in another class running at the
// same time would make those readings lie. xunit 2 has no "exclusive" collection, so the whole assembly is serial.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
