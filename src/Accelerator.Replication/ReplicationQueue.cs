using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Accelerator.Linux;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.Logging;

namespace Accelerator.Replication;

/// <summary>One tag waiting to be replicated, as stored in the <see cref="ReplicationQueue"/>.</summary>
/// <param name="Sequence">Increases with every enqueue; tells a newer event for the same tag from the one in flight.</param>
/// <param name="Source">The source registry host.</param>
/// <param name="Repository">The source repository.</param>
/// <param name="Tag">The tag.</param>
/// <param name="Digest">The digest the notification named (the tag's digest at replication time is what is copied).</param>
/// <param name="Received">When the (latest) event for the tag arrived.</param>
/// <param name="Attempts">Failed attempts so far.</param>
/// <param name="NotBefore">When the next attempt may start.</param>
/// <param name="LastError">The error of the last failed attempt.</param>
internal sealed record QueuedReplication(
    long Sequence, string Source, string Repository, string Tag, Digest? Digest, DateTimeOffset Received, int Attempts, DateTimeOffset NotBefore, string? LastError)
{
    /// <summary>The deduplication key: one entry per source, repository and tag.</summary>
    public string Key => ReplicationQueue.KeyOf(Source, Repository, Tag);
}

/// <summary>
/// A durable queue of tags to replicate: one JSON file per <c>source, repository, tag</c> in a directory, written
/// atomically and fsync'd (file and directory) before <see cref="Enqueue"/> returns, so an acknowledged event survives a
/// crash; a restart reloads every file. A second event for the same tag replaces the first (deduplication); if the
/// first is being replicated at that moment, the entry stays for one more run. Entries are removed only after a
/// successful replication, so delivery is at least once (replication is idempotent). Entries loaded at a restart are due
/// at once. Thread-safe.
/// </summary>
internal sealed partial class ReplicationQueue
{
    private const int FormatVersion = 1;
    private const int MaxEntryBytes = 64 * 1024;
    private const string Extension = ".json";

    private readonly string _directory;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly Dictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private long _sequence;

    private ReplicationQueue(string directory, TimeProvider time, ILogger logger)
    {
        _directory = directory;
        _time = time;
        _logger = logger;
    }

    /// <summary>Entries waiting or in flight.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _slots.Count;
            }
        }
    }

    /// <summary>Whether an entry with <paramref name="key"/> (<see cref="KeyOf"/>) waits or is in flight.</summary>
    public bool Contains(string key)
    {
        lock (_lock)
        {
            return _slots.ContainsKey(key);
        }
    }

    /// <summary>The directory the entries live in.</summary>
    public string Directory => _directory;

    /// <summary>
    /// Opens (creating) the queue in <paramref name="directory"/> and loads its entries. Leftover temporary files are
    /// removed; an entry that cannot be read is moved to <c>corrupt/</c> (kept for inspection, never silently dropped).
    /// </summary>
    public static ReplicationQueue Open(string directory, TimeProvider time, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(directory);
        var queue = new ReplicationQueue(directory, time, logger);
        foreach (string temp in System.IO.Directory.EnumerateFiles(directory, ".*.tmp"))
        {
            File.Delete(temp);
        }

        foreach (string path in System.IO.Directory.EnumerateFiles(directory, "*" + Extension))
        {
            QueuedReplication? item = null;
            string? error = null;
            try
            {
                var info = new FileInfo(path);
                item = info.Length <= MaxEntryBytes ? Deserialize(File.ReadAllBytes(path)) : null;
                error = item is null ? "too large" : null;
            }
            catch (FormatException ex)
            {
                error = ex.Message;
            }

            if (item is null || Path.GetFileName(path) != item.Key + Extension)
            {
                string corrupt = Path.Combine(directory, "corrupt");
                System.IO.Directory.CreateDirectory(corrupt);
                File.Move(path, Path.Combine(corrupt, Path.GetFileName(path)), overwrite: true);
                LogCorruptEntry(logger, path, error ?? "its name does not match its content");
                continue;
            }

            // A restart retries at once (whoever restarted may have fixed what failed); the attempt count is kept.
            var now = time.GetUtcNow();
            queue._slots[item.Key] = new Slot(item.NotBefore > now ? item with { NotBefore = now } : item);
            queue._sequence = Math.Max(queue._sequence, item.Sequence);
        }

        return queue;
    }

    /// <summary>
    /// Adds (or replaces) the entry for the tag, durably: when this returns, the entry is on disk. The entry is due at
    /// once, with no failed attempts.
    /// </summary>
    public QueuedReplication Enqueue(string source, string repository, string tag, Digest? digest)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentException.ThrowIfNullOrEmpty(repository);
        ArgumentException.ThrowIfNullOrEmpty(tag);
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var item = new QueuedReplication(++_sequence, source, repository, tag, digest, now, 0, now, null);
            DurableFile.WriteAtomic(PathOf(item.Key), Serialize(item));
            if (_slots.TryGetValue(item.Key, out var slot))
            {
                slot.Item = item;
            }
            else
            {
                _slots[item.Key] = new Slot(item);
            }

            return item;
        }
    }

    /// <summary>
    /// Takes the due entry that has waited longest and marks it in flight. Returns false when none is due;
    /// <paramref name="nextDue"/> then says when the earliest waiting entry will be (null: none waits).
    /// </summary>
    public bool TryTake([NotNullWhen(true)] out QueuedReplication? item, out DateTimeOffset? nextDue)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            Slot? best = null;
            nextDue = null;
            foreach (var slot in _slots.Values)
            {
                if (slot.InFlight)
                {
                    continue;
                }

                if (slot.Item.NotBefore <= now)
                {
                    if (best is null || slot.Item.NotBefore < best.Item.NotBefore || (slot.Item.NotBefore == best.Item.NotBefore && slot.Item.Sequence < best.Item.Sequence))
                    {
                        best = slot;
                    }
                }
                else if (nextDue is null || slot.Item.NotBefore < nextDue)
                {
                    nextDue = slot.Item.NotBefore;
                }
            }

            if (best is null)
            {
                item = null;
                return false;
            }

            best.InFlight = true;
            item = best.Item;
            return true;
        }
    }

    /// <summary>
    /// Ends a successful run of <paramref name="item"/>: the entry is removed, unless a newer event for the tag
    /// arrived meanwhile, in which case that one stays due.
    /// </summary>
    public void Complete(QueuedReplication item)
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (_lock)
        {
            if (!_slots.TryGetValue(item.Key, out var slot))
            {
                return;
            }

            slot.InFlight = false;
            if (slot.Item.Sequence == item.Sequence)
            {
                File.Delete(PathOf(item.Key));
                _slots.Remove(item.Key);
            }
        }
    }

    /// <summary>
    /// Ends an unsuccessful run of <paramref name="item"/>; the entry waits until <paramref name="notBefore"/>. With
    /// <paramref name="error"/>, one more failed attempt is recorded and persisted; without (an interrupted run, or a
    /// wait that is not a failure), only the in-memory due time changes. A newer event for the tag meanwhile wins and is
    /// due at once.
    /// </summary>
    public QueuedReplication? Release(QueuedReplication item, DateTimeOffset notBefore, string? error)
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (_lock)
        {
            if (!_slots.TryGetValue(item.Key, out var slot))
            {
                return null;
            }

            slot.InFlight = false;
            if (slot.Item.Sequence != item.Sequence)
            {
                return slot.Item;
            }

            if (error is null)
            {
                slot.Item = item with { NotBefore = notBefore };
                return slot.Item;
            }

            var retry = item with { Attempts = item.Attempts + 1, NotBefore = notBefore, LastError = error.Length > 1000 ? error[..1000] : error };
            DurableFile.WriteAtomic(PathOf(retry.Key), Serialize(retry));
            slot.Item = retry;
            return retry;
        }
    }

    /// <summary>A snapshot of the entries, oldest sequence first.</summary>
    public IReadOnlyList<QueuedReplication> Snapshot()
    {
        lock (_lock)
        {
            return _slots.Values.Select(s => s.Item).OrderBy(i => i.Sequence).ToList();
        }
    }

    /// <summary>The file name stem of an entry: a hash of its key fields (names may hold '/', and must not clash).</summary>
    internal static string KeyOf(string source, string repository, string tag)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{source.ToLowerInvariant()}\n{repository}\n{tag}"));
        return Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }

    private string PathOf(string key) => Path.Combine(_directory, key + Extension);

    internal static byte[] Serialize(QueuedReplication item)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("version", FormatVersion);
            json.WriteNumber("sequence", item.Sequence);
            json.WriteString("source", item.Source);
            json.WriteString("repository", item.Repository);
            json.WriteString("tag", item.Tag);
            if (item.Digest is { } digest)
            {
                json.WriteString("digest", digest.ToString());
            }

            json.WriteString("received", item.Received);
            json.WriteNumber("attempts", item.Attempts);
            json.WriteString("notBefore", item.NotBefore);
            if (item.LastError is not null)
            {
                json.WriteString("lastError", item.LastError);
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    internal static QueuedReplication Deserialize(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 4 });
            using var json = JsonDocument.ParseValue(ref reader);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("version", out var version) || version.GetInt32() != FormatVersion)
            {
                throw new FormatException("not a version-1 queue entry");
            }

            string source = root.GetProperty("source").GetString() ?? throw new FormatException("no source");
            string repository = root.GetProperty("repository").GetString() ?? throw new FormatException("no repository");
            string tag = root.GetProperty("tag").GetString() ?? throw new FormatException("no tag");
            Digest? digest = null;
            if (root.TryGetProperty("digest", out var d))
            {
                digest = Digest.TryParse(d.GetString(), out var parsed) ? parsed : throw new FormatException("bad digest");
            }

            RegistryClient.CheckRepository(repository);
            var item = new QueuedReplication(
                root.GetProperty("sequence").GetInt64(),
                source,
                repository,
                tag,
                digest,
                root.GetProperty("received").GetDateTimeOffset(),
                root.GetProperty("attempts").GetInt32(),
                root.GetProperty("notBefore").GetDateTimeOffset(),
                root.TryGetProperty("lastError", out var e) ? e.GetString() : null);
            if (item.Sequence < 1 || item.Attempts < 0 || source.Length == 0 || tag.Length == 0)
            {
                throw new FormatException("out-of-range values");
            }

            return item;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or ArgumentException)
        {
            throw new FormatException($"not a valid queue entry: {ex.Message}", ex);
        }
    }

    [LoggerMessage(20, LogLevel.Warning, "Replication queue entry {Path} cannot be read ({Reason}); moved to corrupt/")]
    private static partial void LogCorruptEntry(ILogger logger, string path, string reason);

    private sealed class Slot(QueuedReplication item)
    {
        public QueuedReplication Item { get; set; } = item;

        public bool InFlight { get; set; }
    }
}
