using MetricAlignment.Annotations.Metrics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace MetricAlignment.Annotations.Api;

/// <summary>Without the Metrics service no value can be checked against its scale: 503, retry later.</summary>
internal sealed class MetricCatalogUnavailableHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not MetricCatalogUnavailableException) return false;
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "5";
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The Metrics service is unavailable",
                Detail = exception.Message,
            },
            Exception = exception,
        });
    }
}
