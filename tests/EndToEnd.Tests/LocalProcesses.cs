using System.Globalization;

namespace MetricAlignment.EndToEnd.Tests;

/// <summary>
/// Finds which local process holds one end of a loopback TCP connection, from Linux's /proc: the socket's inode in
/// /proc/net/tcp{,6}, then the process with a file descriptor on that inode.
/// </summary>
public static class LocalProcesses
{
    const string Listening = "0A";

    public static int? OwnerOfConnection(int localPort, int remotePort)
    {
        var inodes = Sockets().Where(s => s.LocalPort == localPort && s.RemotePort == remotePort).Select(s => s.Inode).ToHashSet();
        if (inodes.Count == 0) return null;
        foreach (var pid in ProcessIds())
            if (SocketInodesOf(pid).Any(inodes.Contains)) return pid;
        return null;
    }

    /// <summary>The TCP ports the process, or a process it started, listens on.</summary>
    public static IReadOnlyList<int> ListeningPorts(int pid)
    {
        var inodes = ProcessIds().Where(p => SelfAndAncestors(p).Contains(pid)).SelectMany(SocketInodesOf).ToHashSet();
        return Sockets().Where(s => s.State == Listening && inodes.Contains(s.Inode)).Select(s => s.LocalPort).Distinct().ToList();
    }

    sealed record Socket(int LocalPort, int RemotePort, string State, string Inode);

    static IEnumerable<Socket> Sockets() =>
        new[] { "/proc/net/tcp", "/proc/net/tcp6" }
            .Where(File.Exists)
            .SelectMany(table => File.ReadLines(table).Skip(1))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(columns => columns.Length > 9)
            .Select(columns => new Socket(PortOf(columns[1]), PortOf(columns[2]), columns[3], columns[9]))
            .ToList();

    static IEnumerable<int> ProcessIds() =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Select(name => int.TryParse(name, out var pid) ? pid : 0).Where(pid => pid > 0);

    static List<string> SocketInodesOf(int pid)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd")
                .Select(descriptor => new FileInfo(descriptor).LinkTarget)
                .Where(target => target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                .Select(target => target!["socket:[".Length..^1])
                .ToList();
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // Another user's process, or one that ended while being read.
            return [];
        }
    }

    /// <summary>The process and its ancestors, nearest first.</summary>
    public static IEnumerable<int> SelfAndAncestors(int pid)
    {
        for (var current = pid; current > 1; current = ParentOf(current))
            yield return current;
    }

    static int ParentOf(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so read after its closing parenthesis.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    static int PortOf(string address) => int.Parse(address[(address.LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
