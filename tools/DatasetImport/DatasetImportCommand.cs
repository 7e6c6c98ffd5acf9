using MetricAlignment.Tools;

namespace MetricAlignment.DatasetImport;

/// <summary>
/// dotnet run --project tools/DatasetImport -- --annotations-url http://127.0.0.1:5102 --user admin --password metric-alignment
/// [--dataset data/summarization-gpt4-vs-humans]. Importing needs the Edit policy (metric-editor or admin); the
/// evaluations land in the token's workspace.
/// </summary>
public static class DatasetImportCommand
{
    const string Usage = "usage: DatasetImport --annotations-url <url> [--dataset <folder with rows.jsonl>] " + AccessTokenOptions.Usage;

    public static async Task<int> Main(string[] args)
    {
        string? url = null, dataset = null;
        var auth = new AccessTokenOptions();
        for (var i = 0; i < args.Length; i++)
        {
            if (auth.TryRead(args, ref i)) continue;
            switch (args[i])
            {
                case "--annotations-url" when i + 1 < args.Length: url = args[++i]; break;
                case "--dataset" when i + 1 < args.Length: dataset = args[++i]; break;
                case "-h" or "--help": Console.WriteLine(Usage); return 0;
                default: Console.Error.WriteLine($"unknown argument '{args[i]}'\n{Usage}"); return 2;
            }
        }
        if (url is null || !Uri.TryCreate(url.TrimEnd('/') + "/", UriKind.Absolute, out var baseAddress))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        if (auth.Problem() is { } authProblem)
        {
            Console.Error.WriteLine($"{authProblem}\n{Usage}");
            return 2;
        }
        dataset ??= FindDefaultDataset();
        if (dataset is null || !File.Exists(Path.Combine(dataset, SummarizationDataset.RowsFile)))
        {
            Console.Error.WriteLine($"no {SummarizationDataset.RowsFile} in '{dataset}'; pass --dataset\n{Usage}");
            return 2;
        }

        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(10) };
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
        try
        {
            var token = await auth.AuthorizeAsync(cancel.Token, http);
            Console.WriteLine($"importing as {AccessTokenOptions.Claim(token, "sub") ?? "the given token"} into workspace {AccessTokenOptions.Claim(token, "workspace") ?? "(unknown)"}");
            var results = await new AnnotationsImporter(http).ImportAsync(dataset, Console.WriteLine, cancel.Token);
            Console.WriteLine($"{results.Count(r => !r.Skipped)} imported, {results.Count(r => r.Skipped)} already present");
            return 0;
        }
        catch (HttpRequestException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }

    // Run from the repository (dotnet run --project tools/DatasetImport) the dataset is found without --dataset.
    static string? FindDefaultDataset()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "data", "summarization-gpt4-vs-humans");
            if (File.Exists(Path.Combine(candidate, SummarizationDataset.RowsFile))) return candidate;
        }
        return null;
    }
}
