// Every test here breaks the one private PostgreSQL or RabbitMQ the fixture owns: one fault at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
