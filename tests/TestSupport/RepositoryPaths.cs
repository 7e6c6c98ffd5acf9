namespace MetricAlignment.TestSupport;

public static class RepositoryPaths
{
    /// <summary>The repository root: the folder that holds Alignment.sln, found upwards from the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    public static string Dataset => Path.Combine(Root, "data", "summarization-gpt4-vs-humans");

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Alignment.sln"))) return dir.FullName;
        throw new InvalidOperationException("Alignment.sln not found above " + AppContext.BaseDirectory);
    }
}
