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
        if (exception is BrokerUnavailableException broker) return await BrokerUnavailableAsync(httpContext, broker);
        var (status, detail) = exception switch
        {
            DependencyFailedException failed => (StatusCodes.Status502BadGateway, failed.Message),
            RequestTimeoutException => (StatusCodes.Status503ServiceUnavailable, "The run was not confirmed in time; it may still appear shortly."),
            _ when DependencyFailure.ForApiCaller(exception) is { } failure => (StatusCodes.Status503ServiceUnavailable, failure),
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

    /// <summary>
    /// The command was cancelled unsent or never confirmed. Commands are keyed by the run id and the run's state decides
    /// whether they apply, so repeating the request cannot apply one twice; the client is told exactly that.
    /// </summary>
    async ValueTask<bool> BrokerUnavailableAsync(HttpContext httpContext, BrokerUnavailableException exception)
    {
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "5";
        var retry = exception.Action == "start"
            ? $"The start of run {exception.RunId} was not confirmed: if GET /api/alignment-runs/{exception.RunId} still finds nothing, start it again."
            : $"Nothing was applied to run {exception.RunId}; send the same request again. Requests are idempotent by run id: "
              + "a repeat cannot apply the operation twice, and if an earlier one did go through the run's status shows it.";
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The message broker is unavailable",
                Detail = $"{exception.Message} {retry}",
                Extensions = { ["runId"] = exception.RunId },
            },
            Exception = exception,
        });
    }
}
