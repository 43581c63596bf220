using System.Text;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Linux.Tests;

/// <summary><see cref="MountTable"/>: the one <c>/proc/self/mountinfo</c> parser (proc(5)), on sample text and the live table.</summary>
public sealed class MountTableTests
{
    private static readonly string[] Sample =
    [
        "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
        @"36 27 0:32 / /mnt/with\040space\134x rw,relatime shared:1 - tmpfs tmpfs rw",
        @"42 27 0:39 / /tmp/a\040b/mnt ro,nosuid,nodev,relatime - fuse.accel accel ro,user_id=0",
        "44 27 0:41 / /tmp/a\\040b/mnt ro shared:7 master:3 - fuse.accel accel ro",
        @"45 27 0:42 / /tmp/a\040b/mnt rw - tmpfs tmpfs rw",
        @"120 30 0:55 / /srv/with\040space rw,relatime shared:1 - overlay overlay rw,lowerdir=/a:/b,upperdir=/s/mounts/x/upper,workdir=/s/mounts/x/work",
        @"121 27 0:56 /sub/dir /tab\011new\012line rw - tmpfs my\040source rw",
        "garbage line",
        "46 27 x:y / /tmp/bad ro - fuse.accel accel ro",
        "47 27 0:1 / /tmp/no-separator ro fuse.accel accel ro",
    ];

    [Fact]
    public void IsMountPoint_ProcAndPlainDirectory_TrueAndFalse()
    {
        string directory = Directory.CreateTempSubdirectory("accel-mountinfo-").FullName;
        try
        {
            Assert.True(MountTable.IsMountPoint("/proc"));
            Assert.False(MountTable.IsMountPoint(directory));
        }
        finally
        {
            Directory.Delete(directory);
        }
    }

    [Fact]
    public void Parse_Sample_EveryFieldOfAWellFormedLine()
    {
        var mounts = MountTable.Parse(Sample);

        Assert.Equal(7, mounts.Count);
        Assert.Equal(new MountEntry(121, 27, 0, 56, "/sub/dir", "/tab\tnew\nline", "tmpfs", "my source", "rw"), mounts[6]);
        Assert.Equal(new MountEntry(27, 1, 254, 0, "/", "/", "ext4", "/dev/vda", "rw"), mounts[0]);
    }

    [Fact]
    public void Parse_EscapedSpaceAndBackslash_Unescaped()
    {
        var mounts = MountTable.Parse(Sample);

        Assert.Contains(mounts, m => m.MountPoint == "/mnt/with space\\x");
        Assert.DoesNotContain(mounts, m => m.MountPoint.Contains("\\040", StringComparison.Ordinal));
    }

    [Fact]
    public void Unescape_NonAsciiPathBytes_DecodedAsUtf8()
        => Assert.Equal("/mnt/é x", MountTable.Unescape("/mnt/\\303\\251\\040x"));

    [Fact]
    public void Find_MountedTwice_TheLastMountOfThatType()
    {
        var mounts = MountTable.Parse(Sample);

        Assert.Equal(41u, MountTable.Find(mounts, "/tmp/a b/mnt", "fuse.accel")?.Minor);
        Assert.Equal(42u, MountTable.Find(mounts, "/tmp/a b/mnt")?.Minor);
        Assert.Null(MountTable.Find(mounts, "/tmp/bad"));
        Assert.Null(MountTable.Find(mounts, "/tmp/a b/mnt", "fuse.other"));
    }

    [Fact]
    public void MountPointsUnder_Directory_DeepestFirstAndNotItsSiblings()
    {
        string[] lines =
        [
            "50 27 0:60 / /s/mounts/x rw - tmpfs tmpfs rw",
            "51 50 0:61 / /s/mounts/x/fs/lower rw - ext4 /dev/loop3 ro",
            "52 50 0:62 / /s/mounts/x/fuse rw - fuse.accel accel ro",
            "53 27 0:63 / /s/mounts/xy rw - tmpfs tmpfs rw",
        ];

        var under = MountTable.MountPointsUnder(MountTable.Parse(lines), "/s/mounts/x");

        Assert.Equal(["/s/mounts/x/fs/lower", "/s/mounts/x/fuse", "/s/mounts/x"], under);
    }

    [Fact]
    public void IsUpperInUse_OverlayLine_ByItsUpperDirOnly()
    {
        var mounts = MountTable.Parse(Sample);

        Assert.Equal("/srv/with space", mounts.Single(m => m.FileSystemType == "overlay").MountPoint);
        Assert.True(MountTable.IsUpperInUse(mounts, "/s/mounts/x/upper"));
        Assert.False(MountTable.IsUpperInUse(mounts, "/s/mounts/x"));
    }

    [Fact]
    public void Read_LiveTable_EveryLineParsedWithRootAndProc()
    {
        string[] lines = File.ReadAllLines(MountTable.SelfPath);
        var mounts = MountTable.Parse(lines);

        Assert.All(lines, line => Assert.True(MountTable.TryParseLine(line, out _), line));
        Assert.Contains(mounts, m => m.MountPoint == "/");
        Assert.Contains(mounts, m => m.MountPoint == "/proc" && m.FileSystemType == "proc");
        Assert.True(MountTable.IsMountPoint("/proc"));
        Assert.True(MountTable.IsMountPoint("/proc/"));
    }

    [Fact]
    public void IsMountPoint_PlainDirectory_False()
    {
        string directory = Directory.CreateTempSubdirectory("accel-mountinfo-").FullName;
        try
        {
            Assert.False(MountTable.IsMountPoint(directory));
        }
        finally
        {
            Directory.Delete(directory);
        }
    }

    [Fact]
    public void Read_MountWithEscapedCharacters_FoundUnescaped()
    {
        if (LibC.Geteuid() != 0)
        {
            return; // mounting needs root
        }

        string directory = Directory.CreateTempSubdirectory("accel-mountinfo-").FullName;
        string target = Directory.CreateDirectory(Path.Combine(directory, "a b\\c\td")).FullName;
        try
        {
            Assert.Equal(0, LibC.Mount("tmpfs", target, "tmpfs", MountFlags.ReadOnly, null));
            try
            {
                var mount = MountTable.Find(MountTable.Read(), target);

                Assert.Equal("tmpfs", mount?.FileSystemType);
                Assert.True(MountTable.IsMountPoint(target));
                Assert.Equal([target], MountTable.MountPointsUnder(MountTable.Read(), directory));
            }
            finally
            {
                Assert.True(FileSystemMount.Unmount(target));
            }

            Assert.False(MountTable.IsMountPoint(target));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("\\")]
    [InlineData("\\0")]
    [InlineData("\\07")]
    [InlineData("\\777")]
    [InlineData("\\8\\9\\\\")]
    public void Unescape_TruncatedOrOddEscapes_DoesNotThrow(string field)
        => Assert.NotNull(MountTable.Unescape(field));

    [Fact]
    public void Parse_RandomAndMutatedLines_NeverThrows()
    {
        var random = new Random(99);
        byte[] seed = Encoding.UTF8.GetBytes("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue");
        const string alphabet = " \\0127/\t:-abc";
        for (int i = 0; i < 4000; i++)
        {
            string line = (i % 3) switch
            {
                0 => Encoding.UTF8.GetString(FuzzInput.RandomBytes(random, 200)),
                1 => Encoding.UTF8.GetString(FuzzInput.Mutate(seed, random)),
                _ => new string(Enumerable.Range(0, random.Next(0, 60)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray()),
            };

            Assert.True(MountTable.Parse([line]).Count <= 1);
        }
    }

    [Fact]
    public void OverlayLayers_ClassicAndNewMountApiOptions_EveryDirectory()
    {
        var classic = MountTable.Parse([Sample[5]]).Single();
        var added = MountTable.Parse(["130 27 0:60 / /mnt/x rw - overlay overlay rw,lowerdir+=/l/one,lowerdir+=/l/two,datadir+=/d,upperdir=/u,workdir=/w,uuid=on"]).Single();
        var tmpfs = MountTable.Parse([Sample[1]]).Single();

        Assert.Equal(["/a", "/b", "/s/mounts/x/upper", "/s/mounts/x/work"], MountTable.OverlayLayers(classic));
        Assert.Equal(["/l/one", "/l/two", "/d", "/u", "/w"], MountTable.OverlayLayers(added));
        Assert.Empty(MountTable.OverlayLayers(tmpfs));
    }

    [Theory]
    [InlineData("/run/accel", "/run/accel", true)]
    [InlineData("/run/accel/lazy-1/lower", "/run/accel", true)]
    [InlineData("/run/accel/lazy-1/lower", "/run/accel/", true)]
    [InlineData("/run/accelerator", "/run/accel", false)]
    [InlineData("/run", "/run/accel", false)]
    [InlineData("/anything", "/", true)]
    public void IsAtOrUnder_PathsAsText_ComponentBoundariesRespected(string path, string directory, bool expected)
        => Assert.Equal(expected, MountTable.IsAtOrUnder(path, directory));
}
