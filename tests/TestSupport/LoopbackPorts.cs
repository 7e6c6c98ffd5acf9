using System.Net;
using System.Net.Sockets;

namespace MetricAlignment.TestSupport;

/// <summary>
/// Loopback ports for servers a test starts itself (private PostgreSQL/RabbitMQ, benchmark services). They are taken
/// below the kernel's ephemeral range: a port picked by binding to port 0 comes from that range, and the Aspire
/// orchestrator and Kestrel pick theirs there too, so a port chosen that way and bound a few seconds later can be taken
/// by another test project's service in between, which then fails to start.
/// </summary>
public static class LoopbackPorts
{
    const int Lowest = 20000;
    static readonly HashSet<int> SharedInstances = [54329, 35672, 35673, 35674, 35675];

    public static int[] Reserve(int count)
    {
        var ceiling = EphemeralRangeStart();
        var ports = new List<int>();
        for (var attempts = 0; ports.Count < count; attempts++)
        {
            if (attempts > 10_000) throw new InvalidOperationException($"No {count} free loopback ports between {Lowest} and {ceiling}.");
            var port = Random.Shared.Next(Lowest, ceiling);
            if (SharedInstances.Contains(port) || ports.Contains(port) || !IsFree(port)) continue;
            ports.Add(port);
        }
        return [.. ports];
    }

    static bool IsFree(int port)
    {
        try
        {
            var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    static int EphemeralRangeStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (int.TryParse(range[0], out var start) && start > Lowest + 1000) return start;
        }
        catch (IOException)
        {
            // Not Linux: fall back to the IANA dynamic range's start.
        }
        return 32768;
    }
}
