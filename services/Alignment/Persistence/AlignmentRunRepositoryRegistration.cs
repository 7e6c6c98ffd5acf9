using MassTransit;
using MassTransit.Configuration;
using MassTransit.Saga;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;

namespace MetricAlignment.Alignment.Persistence;

public static class AlignmentRunRepositoryRegistration
{
    /// <summary>Persists the AlignmentRun saga in the service's PostgreSQL database (the registered NpgsqlDataSource).</summary>
    public static ISagaRegistrationConfigurator<AlignmentRunState> PostgresRepository(this ISagaRegistrationConfigurator<AlignmentRunState> configurator)
    {
        configurator.Repository(r =>
        {
            r.RegisterLoadSagaRepository<AlignmentRunState, AlignmentRunRepositoryContextFactory>();
            r.RegisterSagaRepository<AlignmentRunState, AlignmentRunDatabaseContext,
                SagaConsumeContextFactory<AlignmentRunDatabaseContext, AlignmentRunState>, AlignmentRunRepositoryContextFactory>();
        });
        return configurator;
    }
}
