using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Testing.Conformance;

/// <summary>
/// The source tree <see cref="MountConformanceTests"/> mounts and compares against: every kind of entry and attribute
/// a root file system has (sizes around page and MiB boundaries, setuid/setgid/sticky, odd owners, sub-second and old
/// times, binary/trusted/security/many/large xattrs, symlinks of every sort, hard links across directories, devices,
/// a fifo, NAME_MAX and non-ASCII names, deep nesting, a directory of <see cref="ManyCount"/> entries, an executable).
/// No socket: image layers are tar, which has none. Built once per test class (an xUnit class fixture); needs root.
/// Deleted on dispose.
/// </summary>
public sealed class MountConformanceTree : IDisposable
{
    /// <summary>Entries in <see cref="ManyDirectory"/>.</summary>
    public const int ManyCount = 5000;

    /// <summary>A directory with <see cref="ManyCount"/> entries.</summary>
    public const string ManyDirectory = "many";

    /// <summary>A file of 5 MiB + 123 pseudo-random bytes.</summary>
    public const string BigFile = "files/big";

    /// <summary>A file of exactly 1 MiB.</summary>
    public const string MebibyteFile = "files/1m";

    /// <summary>A file of 1 MiB + 1 byte.</summary>
    public const string OddFile = "files/odd";

    /// <summary>A small text file, content <see cref="SmallContent"/>.</summary>
    public const string SmallFile = "files/small";

    /// <summary>The content of <see cref="SmallFile"/>.</summary>
    public const string SmallContent = "hello, mount\n";

    /// <summary>A file with four xattrs, one binary.</summary>
    public const string XattrFile = "xattrs/file";

    /// <summary>A file with 40 xattrs.</summary>
    public const string ManyXattrsFile = "xattrs/many";

    /// <summary>A file with a 3000-byte xattr value.</summary>
    public const string LargeXattrFile = "xattrs/large";

    /// <summary>A file without xattrs.</summary>
    public const string PlainFile = "files/4k";

    /// <summary>A symlink to <c>../files/small</c>.</summary>
    public const string RelativeSymlink = "links/relative";

    /// <summary>An executable copied from <c>/bin/true</c>.</summary>
    public const string Executable = "bin/true";

    /// <summary>The size of <see cref="BigFile"/>.</summary>
    public const int BigFileSize = (5 * 1024 * 1024) + 123;

    // 2020-01-01T00:00:00Z and 2001-02-03T04:05:06.123456789Z, in nanoseconds.
    private const long DefaultMtime = 1_577_836_800_000_000_000L;
    private const long SubsecondMtime = 981_173_106_123_456_789L;

    private readonly string _work;

    /// <summary>Builds the tree in a new temporary directory.</summary>
    public MountConformanceTree()
    {
        _work = Directory.CreateTempSubdirectory("accel-mount-conformance-").FullName;
        try
        {
            Root = Path.Combine(_work, "tree");
            Build(new StagingDirectory(Root));
            Snapshot = TreeSnapshot.Capture(Root);
        }
        catch
        {
            Directory.Delete(_work, recursive: true);
            throw;
        }
    }

    /// <summary>The source tree's root directory.</summary>
    public string Root { get; }

    /// <summary>The snapshot of the source tree (content hashed).</summary>
    public TreeSnapshot Snapshot { get; }

    /// <summary>The content of a source file.</summary>
    public byte[] ReadSource(string relative) => File.ReadAllBytes(Path.Combine(Root, relative));

    /// <summary>Deletes the tree.</summary>
    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void Build(StagingDirectory s)
    {
        var random = new Random(4242);
        byte[] Bytes(int size)
        {
            byte[] data = new byte[size];
            random.NextBytes(data);
            return data;
        }

        s.AddFile("files/empty", []);
        s.AddFile(SmallFile, SmallContent);
        s.AddFile(PlainFile, Bytes(4096));
        s.AddFile("files/4k-plus-1", Bytes(4097));
        s.AddFile(MebibyteFile, Bytes(1024 * 1024));
        s.AddFile(OddFile, Bytes((1024 * 1024) + 1));
        s.AddFile(BigFile, Bytes(BigFileSize));

        s.AddFile("modes/setuid", "#!/bin/sh\n", "4755");
        s.AddFile("modes/setgid", "#!/bin/sh\n", "2755");
        s.AddDirectory("modes/sticky", "1777");
        s.AddDirectory("modes/setgid-dir", "2775");
        s.AddFile("modes/private", "private\n", "600");
        s.AddFile("modes/none", "no permissions\n", "000");
        s.AddFile("modes/script", "#!/bin/sh\necho script\n", "755");
        s.AddFile("modes/owned", "owned\n", "640");
        s.SetOwner("modes/owned", 1234, 5678);
        s.AddDirectory("modes/owned-dir", "750");
        s.SetOwner("modes/owned-dir", 4_000_000, 4_000_001);

        s.AddFile("times/subsecond", "sub-second\n");
        s.SetMtime("times/subsecond", SubsecondMtime);
        s.AddFile("times/epoch", "one second after the epoch\n");
        s.SetMtime("times/epoch", 1_000_000_000L);
        s.AddDirectory("times/dir");
        s.SetMtime("times/dir", SubsecondMtime + 1000);

        s.AddFile(XattrFile, "with xattrs\n");
        s.SetXattr(XattrFile, "user.comment", "conformance"u8);
        s.SetXattr(XattrFile, "user.binary", [0x00, 0xff, 0x7f, 0x80, 0x0a, 0x00, 0x01]);
        s.SetXattr(XattrFile, "trusted.test", "trusted-value"u8);
        s.SetXattr(XattrFile, "security.test", "security-value"u8);
        s.AddFile(ManyXattrsFile, "many xattrs\n");
        for (int i = 0; i < 40; i++)
        {
            s.SetXattr(ManyXattrsFile, $"user.attribute-number-{i:D2}", System.Text.Encoding.ASCII.GetBytes($"value {i}"));
        }

        s.AddFile(LargeXattrFile, "large xattr\n");
        s.SetXattr(LargeXattrFile, "user.large", Bytes(3000));
        s.AddDirectory("xattrs/dir");
        s.SetXattr("xattrs/dir", "user.dir", "d"u8);
        s.AddSymlink("xattrs/link", "file");
        s.SetXattr("xattrs/link", "trusted.link", "on the link itself"u8);

        s.AddSymlink(RelativeSymlink, "../files/small");
        s.AddSymlink("links/absolute", "/etc/hostname");
        s.AddSymlink("links/dangling", "does/not/exist");
        s.AddSymlink("links/escape", "../../../../etc/passwd");
        s.AddSymlink("links/dir", "../files");
        s.AddSymlink("links/long", string.Join('/', Enumerable.Repeat("a-long-path-segment", 200)));

        s.AddFile("hardlinks/a", "one inode, three names\n");
        s.AddHardLink("hardlinks/a", "hardlinks/b");
        s.AddHardLink("hardlinks/a", "other/hardlink-c");

        s.AddDevice("devices/char", block: false, 1, 3);
        s.AddDevice("devices/block", block: true, 7, 0);
        s.AddDevice("devices/large-numbers", block: false, 240, 300_000);
        s.AddFifo("devices/fifo");

        s.AddFile("names/" + new string('n', 255), "NAME_MAX\n");
        s.AddFile("names/ünïcödé-名前", "unicode\n");
        s.AddFile("names/with space", "space\n");
        s.AddFile("names/-dash", "dash\n");
        s.AddFile("names/.hidden", "hidden\n");

        string deep = string.Join('/', Enumerable.Range(1, 20).Select(i => "d" + i));
        s.AddFile(deep + "/leaf", "deep\n");
        s.AddDirectory("empty-dir");

        for (int i = 0; i < ManyCount; i++)
        {
            s.AddFile($"{ManyDirectory}/entry-{i:D4}", i % 10 == 0 ? $"entry {i}\n" : string.Empty);
        }

        s.AddFile(Executable, File.ReadAllBytes("/bin/true"), "755");
        s.ApplyTimes(DefaultMtime);
    }
}
