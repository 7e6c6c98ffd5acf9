// The races are timed against each other and against bounds; classes sharing two cores would blur both.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
