using MassTransit;
using MetricAlignment.Alignment.Clients;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace MetricAlignment.Alignment.Api;

/// <summary>The Metrics or Annotations service failing, or the saga not answering in time: the client may retry.</summary>
internal sealed class DependencyFailureHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, detail) = exception switch
        {
            DependencyFailedException failed => (StatusCodes.Status502BadGateway, failed.Message),
            HttpRequestException http => (StatusCodes.Status503ServiceUnavailable, $"A service this one depends on could not be reached: {http.Message}"),
            Polly.Timeout.TimeoutRejectedException => (StatusCodes.Status503ServiceUnavailable, "A service this one depends on did not answer in time."),
            RequestTimeoutException => (StatusCodes.Status503ServiceUnavailable, "The run was not confirmed in time; it may still appear shortly."),
            _ => (0, ""),
        };
        if (status == 0) return false;
        httpContext.Response.StatusCode = status;
        httpContext.Response.Headers.RetryAfter = "5";
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = new ProblemDetails { Status = status, Title = "A dependency failed", Detail = detail },
            Exception = exception,
        });
    }
}
