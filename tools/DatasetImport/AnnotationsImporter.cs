using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace MetricAlignment.DatasetImport;

public sealed record ImportedEvaluation(string Name, bool Skipped, Guid? EvaluationId, int Rows, int Annotations, int Resolved);

/// <summary>Posts the dataset's evaluations to the Annotations service, skipping any already there (by name).</summary>
public sealed class AnnotationsImporter(HttpClient annotations)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    sealed record EvaluationSummary(Guid Id, string Name);

    sealed record ImportResponse(Guid EvaluationId, int Rows, int Annotations, int Resolved);

    public async Task<IReadOnlyList<ImportedEvaluation>> ImportAsync(string datasetDirectory, Action<string>? log, CancellationToken ct)
    {
        var results = new List<ImportedEvaluation>();
        foreach (var evaluation in SummarizationDataset.Convert(datasetDirectory))
        {
            var existing = await annotations.GetFromJsonAsync<List<EvaluationSummary>>(
                "api/evaluations?name=" + Uri.EscapeDataString(evaluation.Name), Json, ct) ?? [];
            if (existing.Count > 0)
            {
                log?.Invoke($"skipped  {evaluation.Name}: already imported as {existing[0].Id}");
                results.Add(new ImportedEvaluation(evaluation.Name, true, existing[0].Id, 0, 0, 0));
                continue;
            }

            using var content = new StringContent(evaluation.Ndjson, Encoding.UTF8);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
            using var response = await annotations.PostAsync("api/evaluations/import", content, ct);
            if (!response.IsSuccessStatusCode)
                throw new HttpRequestException(
                    $"Importing '{evaluation.Name}' failed with {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}",
                    null, response.StatusCode);
            var imported = (await response.Content.ReadFromJsonAsync<ImportResponse>(Json, ct))!;
            log?.Invoke($"imported {evaluation.Name}: {imported.Rows} rows, {imported.Annotations} annotations, {imported.Resolved} resolved");
            results.Add(new ImportedEvaluation(evaluation.Name, false, imported.EvaluationId, imported.Rows, imported.Annotations, imported.Resolved));
        }
        return results;
    }
}
