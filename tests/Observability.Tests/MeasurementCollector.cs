using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Observability.Tests;

public sealed record Measurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

/// <summary>Every measurement recorded on the project's meter in this test process.</summary>
public sealed class MeasurementCollector : IDisposable
{
    readonly MeterListener listener = new();
    readonly ConcurrentQueue<Measurement> measurements = new();

    public MeasurementCollector()
    {
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Telemetry.MeterName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        listener.Start();
    }

    void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags) copy[tag.Key] = tag.Value;
        measurements.Enqueue(new Measurement(instrument.Name, value, copy));
    }

    public IReadOnlyList<Measurement> Of(string instrument) => measurements.Where(m => m.Instrument == instrument).ToList();

    public void Dispose() => listener.Dispose();
}
