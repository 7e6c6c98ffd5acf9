namespace MetricAlignment.Web.Logic;

/// <summary>Where the sign-in page may send a person afterwards: a path of this site, never another host.</summary>
public static class ReturnUrls
{
    public const string Home = "/";

    /// <summary>
    /// A local path ("/metrics/x?y") is kept; anything that a browser could read as another origin ("//evil",
    /// "/\evil", "https://evil", "javascript:") or that is blank becomes the home page.
    /// </summary>
    public static string Safe(string? returnUrl)
    {
        if (string.IsNullOrWhiteSpace(returnUrl)) return Home;
        var url = returnUrl.Trim();
        if (url[0] != '/') return Home;
        if (url.Length > 1 && (url[1] == '/' || url[1] == '\\')) return Home;
        // Browsers drop tabs and newlines inside URLs, which could turn "/\t/evil" into "//evil".
        if (url.Any(char.IsControl)) return Home;
        return url;
    }

    /// <summary>The sign-in page's address that comes back to <paramref name="path"/> afterwards.</summary>
    public static string SignIn(string? path)
    {
        var safe = Safe(path);
        return safe == Home ? "/signin" : $"/signin?returnUrl={Uri.EscapeDataString(safe)}";
    }
}
