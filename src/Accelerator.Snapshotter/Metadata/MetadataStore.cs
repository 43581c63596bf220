using System.Globalization;
using Accelerator.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Snapshotter.Metadata;

/// <summary>
/// The snapshotter's metadata under its root, owned by one process at a time:
/// <code>
/// ROOT/lock                 flock'd while a snapshotter runs on ROOT
/// ROOT/metadata/ID.json     one record per snapshot, replaced atomically (DurableFile)
/// ROOT/snapshots/ID/fs      the snapshot's tree (overlay upperdir of an active snapshot, lowerdir once committed)
/// ROOT/snapshots/ID/work    an active snapshot's overlay workdir
/// </code>
/// Directories are named by number, never by a client's key, so that keys cannot name paths and 100+ lower
/// directories fit in one page of mount options.
/// </summary>
/// <remarks>
/// Crash safety comes from the order of the writes; each step is durable before the next:
/// a snapshot's directory is created (under a temporary name, then renamed) before its record is written, and its
/// record is deleted before its directory; a commit replaces the active record by the committed one in one atomic
/// rename (same ID, same directory). <see cref="Open"/> repairs what a crash between two steps can leave: directories
/// no record owns are removed, a record whose directory is gone is dropped, and of two records claiming one name the
/// committed one (then the older) is kept. Not thread-safe: the snapshotter serializes calls.
/// </remarks>
internal sealed partial class MetadataStore : IDisposable
{
    private const string TemporaryPrefix = "new-";

    private readonly Dictionary<string, SnapshotRecord> _byName = new(StringComparer.Ordinal);
    private readonly SafeFileHandle _lock;
    private readonly ILogger _logger;
    private long _nextId = 1;

    private MetadataStore(string root, SafeFileHandle rootLock, ILogger logger)
    {
        Root = root;
        _lock = rootLock;
        _logger = logger;
        SnapshotsDirectory = Path.Combine(root, "snapshots");
        MetadataDirectory = Path.Combine(root, "metadata");
    }

    /// <summary>The root directory.</summary>
    public string Root { get; }

    /// <summary><c>ROOT/snapshots</c>.</summary>
    public string SnapshotsDirectory { get; }

    /// <summary><c>ROOT/metadata</c>.</summary>
    public string MetadataDirectory { get; }

    /// <summary>Every record.</summary>
    public IReadOnlyCollection<SnapshotRecord> Records => _byName.Values;

    /// <summary>
    /// Opens (creating, mode 0700) the metadata under <paramref name="root"/>, locked for this process, and repairs what
    /// a crash left.
    /// </summary>
    /// <exception cref="IOException">Another process (another <c>accel snapshotter</c>) holds the root.</exception>
    public static MetadataStore Open(string root, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        root = PrivateDirectory.Create(root);
        string lockFile = Path.Combine(root, "lock");
        var busy = new IOException($"Another accel snapshotter is running on {root} (it holds {lockFile}); one daemon per root.");
        SafeFileHandle handle;
        try
        {
            // .NET takes a shared flock on open; the exclusive one below is what keeps a second daemon out.
            handle = File.OpenHandle(lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw busy;
        }

        if (LibC.Flock((int)handle.DangerousGetHandle(), LibC.LOCK_EX | LibC.LOCK_NB) != 0)
        {
            handle.Dispose();
            throw busy;
        }

        var store = new MetadataStore(root, handle, logger ?? NullLogger.Instance);
        try
        {
            PrivateDirectory.Create(store.SnapshotsDirectory);
            PrivateDirectory.Create(store.MetadataDirectory);
            store.Recover();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary><c>ROOT/snapshots/ID</c>.</summary>
    public string DirectoryOf(long id) => Path.Combine(SnapshotsDirectory, id.ToString(CultureInfo.InvariantCulture));

    /// <summary><c>ROOT/snapshots/ID/fs</c>: the snapshot's tree.</summary>
    public string FsOf(long id) => Path.Combine(DirectoryOf(id), "fs");

    /// <summary><c>ROOT/snapshots/ID/work</c>: an active snapshot's overlay workdir.</summary>
    public string WorkOf(long id) => Path.Combine(DirectoryOf(id), "work");

    /// <summary>The record named <paramref name="name"/> (a key or a committed name).</summary>
    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SnapshotRecord? record) => _byName.TryGetValue(name, out record);

    /// <summary>Whether any snapshot has <paramref name="name"/> as its parent.</summary>
    public bool HasChildren(string name) => _byName.Values.Any(r => string.Equals(r.Parent, name, StringComparison.Ordinal));

    /// <summary>A new ID, higher than every ID a record or directory has.</summary>
    public long AllocateId() => _nextId++;

    /// <summary>
    /// Creates the directory of a new snapshot <paramref name="id"/> (<c>fs</c>, and <c>work</c> when
    /// <paramref name="withWork"/>) under a temporary name, then renames it into place, durably.
    /// </summary>
    public void CreateDirectory(long id, bool withWork, uint? ownerUid = null, uint? ownerGid = null)
    {
        string temporary = Path.Combine(SnapshotsDirectory, TemporaryPrefix + id.ToString(CultureInfo.InvariantCulture));
        try
        {
            Directory.CreateDirectory(temporary, PrivateDirectory.Mode);
            string fs = Path.Combine(temporary, "fs");
            // The tree's root is the container's /: 0755 as containerd creates it; the parent directory keeps others out.
            Directory.CreateDirectory(fs, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            if (ownerUid is { } uid && ownerGid is { } gid && (uid != LibC.Geteuid() || gid != LibC.Getegid()))
            {
                LibC.SetOwner(fs, uid, gid);
            }

            if (withWork)
            {
                Directory.CreateDirectory(Path.Combine(temporary, "work"), PrivateDirectory.Mode);
            }

            DurableFile.SyncDirectory(temporary);
            Directory.Move(temporary, DirectoryOf(id));
            DurableFile.SyncDirectory(SnapshotsDirectory);
        }
        catch
        {
            RemoveTree(temporary);
            throw;
        }
    }

    /// <summary>Writes <paramref name="record"/> durably, replacing the record with its ID (and its old name, on a commit).</summary>
    public void Put(SnapshotRecord record)
    {
        DurableFile.WriteAtomic(FileOf(record.Id), MetadataFile.Serialize(record));
        var previous = _byName.Values.FirstOrDefault(r => r.Id == record.Id);
        if (previous is not null)
        {
            _byName.Remove(previous.Name);
        }

        _byName[record.Name] = record;
    }

    /// <summary>Deletes <paramref name="record"/> durably, then its directory (a crash in between leaves an orphan directory that recovery removes).</summary>
    public void Delete(SnapshotRecord record)
    {
        File.Delete(FileOf(record.Id));
        DurableFile.SyncDirectory(MetadataDirectory);
        _byName.Remove(record.Name);
        RemoveTree(DirectoryOf(record.Id));
    }

    /// <summary>Removes every directory under <c>ROOT/snapshots</c> that no record owns; returns how many.</summary>
    public int RemoveOrphanDirectories()
    {
        var owned = new HashSet<string>(_byName.Values.Where(r => r.HasDirectory).Select(r => r.Id.ToString(CultureInfo.InvariantCulture)), StringComparer.Ordinal);
        int removed = 0;
        foreach (string directory in Directory.EnumerateDirectories(SnapshotsDirectory))
        {
            if (!owned.Contains(Path.GetFileName(directory)))
            {
                LogOrphanRemoved(_logger, directory);
                RemoveTree(directory);
                removed++;
            }
        }

        foreach (string file in Directory.EnumerateFiles(SnapshotsDirectory))
        {
            File.Delete(file);
        }

        return removed;
    }

    /// <summary>Releases the root's lock.</summary>
    public void Dispose() => _lock.Dispose();

    private string FileOf(long id) => Path.Combine(MetadataDirectory, id.ToString(CultureInfo.InvariantCulture) + ".json");

    private void Recover()
    {
        var records = new List<SnapshotRecord>();
        foreach (string file in Directory.EnumerateFiles(MetadataDirectory))
        {
            string name = Path.GetFileName(file);
            if (name.EndsWith(".tmp", StringComparison.Ordinal))
            {
                // A DurableFile.WriteAtomic interrupted before its rename: the record it was replacing is still whole.
                File.Delete(file);
                continue;
            }

            if (!name.EndsWith(".json", StringComparison.Ordinal)
                || !long.TryParse(name.AsSpan(0, name.Length - ".json".Length), NumberStyles.None, CultureInfo.InvariantCulture, out long id)
                || MetadataFile.TryDeserialize(File.ReadAllBytes(file)) is not { } record
                || record.Id != id)
            {
                LogUnreadableRecord(_logger, file);
                File.Move(file, file + ".unreadable", overwrite: true);
                continue;
            }

            records.Add(record);
        }

        // Two records claiming one name: the committed one is the truth (a commit that also left its active record),
        // else the older one.
        foreach (var group in records.GroupBy(r => r.Name, StringComparer.Ordinal))
        {
            var ordered = group.OrderByDescending(r => r.Kind == SnapshotKind.Committed).ThenBy(r => r.Id).ToList();
            foreach (var duplicate in ordered.Skip(1))
            {
                LogDuplicateRemoved(_logger, duplicate.Name, duplicate.Id, ordered[0].Id);
                File.Delete(FileOf(duplicate.Id));
            }

            var kept = ordered[0];
            if (kept.HasDirectory && !Directory.Exists(FsOf(kept.Id)))
            {
                LogMissingDirectoryDropped(_logger, kept.Name, kept.Id);
                File.Delete(FileOf(kept.Id));
                continue;
            }

            _byName[kept.Name] = kept;
        }

        DurableFile.SyncDirectory(MetadataDirectory);
        RemoveOrphanDirectories();
        long highest = _byName.Values.Select(r => r.Id).DefaultIfEmpty(0).Max();
        _nextId = highest + 1;
        LogOpened(_logger, Root, _byName.Count);
    }

    private static void RemoveTree(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
