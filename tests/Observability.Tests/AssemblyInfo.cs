// The hosts under test share process-wide state (ActivitySources, MassTransit's static log context); one at a time
// keeps one test's host disposal from pulling the logger factory from under another test's bus.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
