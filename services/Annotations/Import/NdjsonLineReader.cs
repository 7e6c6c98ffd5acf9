using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace MetricAlignment.Annotations.Import;

/// <summary>
/// Splits a UTF-8 body into lines as it arrives, so that an import of any size holds one read buffer in memory,
/// never the whole body. Each line is handed to <c>parse</c> while its bytes are still in the pipe's buffer;
/// what comes out must not refer to them.
/// </summary>
public static class NdjsonLineReader
{
    public delegate T LineParser<out T>(int lineNumber, ReadOnlySequence<byte> line);

    /// <summary>Thrown when a line has no end within the allowed length: nothing after it can be read reliably.</summary>
    public sealed class LineTooLongException(int lineNumber, long limit)
        : Exception($"line {lineNumber} is longer than {limit} bytes")
    {
        public int LineNumber { get; } = lineNumber;
    }

    public static async IAsyncEnumerable<T> ReadAsync<T>(PipeReader body, long maxLineBytes, LineParser<T> parse,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var lineNumber = 0;
        var parsed = new List<T>();
        while (true)
        {
            var result = await body.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            while (TryReadLine(ref buffer, out var line))
            {
                lineNumber++;
                // A long line can arrive whole in one read; the limit holds however the body was chunked.
                if (line.Length > maxLineBytes) throw new LineTooLongException(lineNumber, maxLineBytes);
                if (!IsBlank(line)) parsed.Add(parse(lineNumber, line));
            }
            if (result.IsCompleted && buffer.Length > 0)
            {
                lineNumber++;
                if (buffer.Length > maxLineBytes) throw new LineTooLongException(lineNumber, maxLineBytes);
                if (!IsBlank(buffer)) parsed.Add(parse(lineNumber, buffer));
                buffer = buffer.Slice(buffer.End);
            }
            else if (buffer.Length > maxLineBytes)
            {
                throw new LineTooLongException(lineNumber + 1, maxLineBytes);
            }
            body.AdvanceTo(buffer.Start, buffer.End);

            foreach (var item in parsed) yield return item;
            parsed.Clear();
            if (result.IsCompleted) yield break;
        }
    }

    static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        var end = buffer.PositionOf((byte)'\n');
        if (end is null)
        {
            line = default;
            return false;
        }
        line = buffer.Slice(0, end.Value);
        buffer = buffer.Slice(buffer.GetPosition(1, end.Value));
        if (line.Length > 0 && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r') line = line.Slice(0, line.Length - 1);
        return true;
    }

    static bool IsBlank(ReadOnlySequence<byte> line)
    {
        foreach (var segment in line)
            foreach (var b in segment.Span)
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r'))
                    return false;
        return true;
    }
}
