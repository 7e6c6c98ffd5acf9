using MetricAlignment.Alignment.Clients;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Timeout;

namespace MetricAlignment.Alignment.Tests.Clients;

public sealed class Describing_a_failed_call_to_another_service
{
    public static TheoryData<Exception, DependencyFailureKind> Failures => new()
    {
        { new HttpRequestException("Connection refused (metrics:8080)"), DependencyFailureKind.Unreachable },
        { new TimeoutRejectedException("The operation didn't complete within the allowed timeout."), DependencyFailureKind.TimedOut },
        { new BrokenCircuitException("The circuit is now open and is not allowing calls."), DependencyFailureKind.CircuitOpen },
        { new RateLimiterRejectedException("The operation could not be executed because it was rejected by the rate limiter."), DependencyFailureKind.Rejected },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void Names_the_most_specific_kind_even_though_timeouts_and_open_circuits_are_rejections_too(Exception exception, DependencyFailureKind kind) =>
        DependencyFailure.Classify(exception).Should().Be(kind);

    [Fact]
    public void Leaves_any_other_exception_to_the_caller()
    {
        var other = new InvalidOperationException("not a dependency");

        DependencyFailure.Classify(other).Should().BeNull();
        DependencyFailure.ForApiCaller(other).Should().BeNull();
        DependencyFailure.ForFailedRun(other).Should().BeNull();
    }

    [Fact]
    public void Tells_an_api_caller_what_failed_from_the_services_view()
    {
        DependencyFailure.ForApiCaller(new HttpRequestException("Connection refused (metrics:8080)"))
            .Should().Be("A service this one depends on could not be reached: Connection refused (metrics:8080)");
        DependencyFailure.ForApiCaller(new BrokenCircuitException())
            .Should().Be("A service this one depends on failed repeatedly; calls to it are paused for a few seconds.");
    }

    [Fact]
    public void Tells_a_failed_run_what_failed_and_that_the_run_can_be_retried()
    {
        DependencyFailure.ForFailedRun(new HttpRequestException("Connection refused (annotations:8080)"))
            .Should().Be("A service the run depends on could not be reached: Connection refused (annotations:8080)");
        DependencyFailure.ForFailedRun(new TimeoutRejectedException())
            .Should().Be("A service the run depends on did not answer in time.");
        DependencyFailure.ForFailedRun(new BrokenCircuitException())
            .Should().Be("A service the run depends on failed repeatedly, so calls to it were paused; retry the run.");
        DependencyFailure.ForFailedRun(new RateLimiterRejectedException())
            .Should().Be("A service the run depends on was not taking calls; retry the run.");
    }
}
