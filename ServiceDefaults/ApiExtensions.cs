using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Scalar.AspNetCore;

namespace MetricAlignment.ServiceDefaults;

public static class ApiExtensions
{
    /// <summary>Largest request body an endpoint accepts unless it declares its own limit (docs/limits.md).</summary>
    public const string MaxRequestBodyBytesKey = "Api:MaxRequestBodyBytes";
    public const long DefaultMaxRequestBodyBytes = 4L << 20;
    /// <summary>Deepest JSON nesting read from a request body; deeper documents are refused with 400.</summary>
    public const string MaxJsonDepthKey = "Api:MaxJsonDepth";
    public const int DefaultMaxJsonDepth = 64;

    /// <summary>Problem details for every error, OpenAPI document, JSON that names enums as strings.</summary>
    public static TBuilder AddApiDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
            context.ProblemDetails.Extensions.TryAdd("traceId", System.Diagnostics.Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier));
        builder.Services.AddExceptionHandler<UnavailableDependencyHandler>();
        builder.Services.AddOpenApi();
        builder.AddPlatformAuthentication();
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.SnakeCaseLower));
            options.SerializerOptions.MaxDepth = builder.Configuration.GetValue(MaxJsonDepthKey, DefaultMaxJsonDepth);
        });
        return builder;
    }

    public static WebApplication UseApiDefaults(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRequestBodyLimit(app.Configuration.GetValue<long?>(MaxRequestBodyBytesKey) ?? DefaultMaxRequestBodyBytes);
        app.UseAuthentication();
        app.UseAuthorization();
        // The API's description is public; what it describes is not.
        app.MapOpenApi().AllowAnonymous();
        app.MapScalarApiReference().AllowAnonymous();
        app.MapDefaultEndpoints();
        return app;
    }

    /// <summary>
    /// Refuses a body larger than the endpoint's limit (its IRequestSizeLimitMetadata, else the default) with 413 before
    /// reading it, and caps a body of unknown length through the server's limit, so that no endpoint buffers an unbounded body.
    /// </summary>
    static void UseRequestBodyLimit(this WebApplication app, long defaultLimit) => app.Use(async (context, next) =>
    {
        var limit = context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>() is { } declared
            ? declared.MaxRequestBodySize
            : defaultLimit;
        if (limit is { } max)
        {
            if (context.Request.ContentLength > max)
            {
                await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, "The request body is too large",
                    $"This endpoint accepts at most {max} bytes; the request declared {context.Request.ContentLength}.");
                return;
            }
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = max;
        }
        // JSON binding throws (a 500) on a charset it cannot decode; that is the client's mistake, so it gets 415.
        if (Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var mediaType)
            && mediaType.Charset.HasValue && !IsKnownEncoding(mediaType.Charset.Value!))
        {
            await RefuseAsync(context, StatusCodes.Status415UnsupportedMediaType, "Unsupported charset",
                $"The request body's charset '{mediaType.Charset.Value}' is not supported; send UTF-8.");
            return;
        }
        await next(context);
    });

    static bool IsKnownEncoding(string name)
    {
        try
        {
            System.Text.Encoding.GetEncoding(name);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    static async Task RefuseAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }
}

/// <summary>A database or broker outage is the client's cue to retry: 503 with problem details, not a bare 500.</summary>
internal sealed class UnavailableDependencyHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var unavailable = exception is NpgsqlException { IsTransient: true } or TimeoutException
            || exception is BadHttpRequestException;
        if (!unavailable) return false;
        if (exception is BadHttpRequestException bad)
        {
            httpContext.Response.StatusCode = bad.StatusCode;
            return await problemDetails.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                ProblemDetails = new ProblemDetails { Status = bad.StatusCode, Title = "Bad request", Detail = bad.Message },
                Exception = exception,
            });
        }
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "5";
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "A dependency is unavailable",
                Detail = "The service's database or broker did not answer; retry shortly.",
            },
            Exception = exception,
        });
    }
}
