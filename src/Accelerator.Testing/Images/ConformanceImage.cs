using System.Diagnostics;
using P = Accelerator.Testing.Images.ConformancePaths;

namespace Accelerator.Testing.Images;

/// <summary>
/// An OCI image layout, built with the reference tools (GNU tar and umoci), whose layers together hold every kind of
/// tar entry and layer semantics an unpacker or mounter must get right: sizes, modes incl. setuid/setgid/sticky,
/// unusual owners, sub-second mtimes, xattrs (binary, <c>trusted.*</c>, <c>security.*</c>), absolute, relative,
/// dangling and escaping symlinks, hard links within and across layers, devices, a fifo, long names (PAX and GNU),
/// a sparse file, whiteouts, an opaque directory, and type changes across layers. <see cref="ConformancePaths"/> lists
/// the items. Building needs root (devices, ownership, <c>trusted.*</c> xattrs).
/// </summary>
/// <remarks>
/// Layers, lowest first: (1) PAX tar of a staged tree with the base items; (2) GNU-format tar with whiteouts, an opaque
/// directory, type changes, a GNU long name and a hard link to a file of layer 1 (the tar was made with both and the
/// file's entry then removed with <c>tar --delete</c>); (3) made by <c>umoci unpack</c>, changes, <c>umoci repack</c>.
/// </remarks>
public sealed class ConformanceImage : IDisposable
{
    /// <summary>The tag of the image in the layout.</summary>
    public const string DefaultTag = "conformance";

    private readonly string _workDirectory;

    private ConformanceImage(string workDirectory, string layoutPath, string tag, IReadOnlyList<string> layerTarPaths, TimeSpan buildTime)
    {
        _workDirectory = workDirectory;
        LayoutPath = layoutPath;
        Tag = tag;
        LayerTarPaths = layerTarPaths;
        BuildTime = buildTime;
    }

    /// <summary>The OCI image layout directory.</summary>
    public string LayoutPath { get; }

    /// <summary>The image's tag in the layout.</summary>
    public string Tag { get; }

    /// <summary>The image as an <c>oci:DIR:TAG</c> reference (skopeo and <c>accel</c> syntax).</summary>
    public string OciReference => $"oci:{LayoutPath}:{Tag}";

    /// <summary>The uncompressed tarballs of the two tar-made layers (the third is made by umoci), for tar-level tests.</summary>
    public IReadOnlyList<string> LayerTarPaths { get; }

    /// <summary>How long <see cref="BuildAsync"/> took.</summary>
    public TimeSpan BuildTime { get; }

    /// <summary>Builds the image in a new temporary directory (deleted by <see cref="Dispose"/>).</summary>
    /// <param name="parentDirectory">Where to create the working directory; the system temp directory when null.</param>
    /// <param name="cancellationToken">Cancels the build.</param>
    public static async Task<ConformanceImage> BuildAsync(string? parentDirectory = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        string work = parentDirectory is null
            ? Directory.CreateTempSubdirectory("accel-conformance-").FullName
            : Directory.CreateDirectory(Path.Combine(parentDirectory, "accel-conformance-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            string layout = Path.Combine(work, "layout");
            string image = $"{layout}:{DefaultTag}";
            await ExternalTool.RunAsync("umoci", ["init", "--layout", layout], cancellationToken: cancellationToken).ConfigureAwait(false);
            await ExternalTool.RunAsync("umoci", ["new", "--image", image], cancellationToken: cancellationToken).ConfigureAwait(false);

            string layer1 = Path.Combine(work, "layer1.tar");
            StageBase(new StagingDirectory(Path.Combine(work, "stage1")));
            await TarAsync(Path.Combine(work, "stage1"), layer1, "posix", cancellationToken).ConfigureAwait(false);
            await AddLayerAsync(image, layer1, "conformance: base items", cancellationToken).ConfigureAwait(false);

            string layer2 = Path.Combine(work, "layer2.tar");
            StageUpper(new StagingDirectory(Path.Combine(work, "stage2")));
            await TarAsync(Path.Combine(work, "stage2"), layer2, "gnu", cancellationToken).ConfigureAwait(false);
            // Leave only the hard-link entry: its target comes from layer 1.
            await ExternalTool.RunAsync("tar", ["--delete", "--file", layer2, "./" + P.CrossLayerTarget], cancellationToken: cancellationToken).ConfigureAwait(false);
            await AddLayerAsync(image, layer2, "conformance: whiteouts, opaque dir, type changes, cross-layer hard link", cancellationToken).ConfigureAwait(false);

            string bundle = Path.Combine(work, "bundle");
            string rootfs = await OciLayoutTools.UnpackWithUmociAsync(layout, DefaultTag, bundle, cancellationToken).ConfigureAwait(false);
            ChangeForRepack(rootfs);
            await ExternalTool.RunAsync("umoci", ["repack", "--image", image, "--history.created_by", "conformance: umoci repack", bundle], cancellationToken: cancellationToken).ConfigureAwait(false);
            await ExternalTool.RunAsync("umoci", ["gc", "--layout", layout], cancellationToken: cancellationToken).ConfigureAwait(false);

            Directory.Delete(bundle, recursive: true);
            Directory.Delete(Path.Combine(work, "stage1"), recursive: true);
            Directory.Delete(Path.Combine(work, "stage2"), recursive: true);
            return new ConformanceImage(work, layout, DefaultTag, [layer1, layer2], clock.Elapsed);
        }
        catch
        {
            TryDelete(work);
            throw;
        }
    }

    /// <summary>Pushes the image with skopeo to <c>HOST/REPOSITORY:TAG</c> (see <see cref="OciLayoutTools.PushAsync"/>).</summary>
    public Task PushAsync(string registryHost, string repository, PushManifestFormat format = PushManifestFormat.Oci, CancellationToken cancellationToken = default)
        => OciLayoutTools.PushAsync(LayoutPath, Tag, registryHost, repository, format, cancellationToken);

    /// <summary>
    /// Unpacks the image with <c>umoci unpack</c> into the bundle directory <paramref name="bundlePath"/> (which must not
    /// exist) and returns its root file system path.
    /// </summary>
    public Task<string> UnpackWithUmociAsync(string bundlePath, CancellationToken cancellationToken = default)
        => OciLayoutTools.UnpackWithUmociAsync(LayoutPath, Tag, bundlePath, cancellationToken);

    /// <summary>Deletes the working directory with the layout.</summary>
    public void Dispose() => TryDelete(_workDirectory);

    private static void StageBase(StagingDirectory s)
    {
        s.AddFile(P.EmptyFile, []);
        s.AddFile(P.SmallFile, P.SmallFileContent);
        var large = new byte[P.LargeFileSize];
        new Random(20240601).NextBytes(large);
        s.AddFile(P.LargeFile, large);

        s.AddFile(P.SetuidFile, "#!/bin/sh\necho setuid\n", "4755");
        s.AddFile(P.SetgidFile, "#!/bin/sh\necho setgid\n", "2755");
        s.AddDirectory(P.SetgidDirectory, "2775");
        s.AddDirectory(P.StickyDirectory, "1777");
        s.AddFile(P.OwnedFile, "owned\n", "640");
        s.SetOwner(P.OwnedFile, P.UnusualUid, P.UnusualGid);
        s.AddDirectory(P.OwnedDirectory, "750");
        s.SetOwner(P.OwnedDirectory, P.UnusualUid, P.UnusualGid);

        s.AddFile(P.SubsecondMtimeFile, "sub-second mtime\n");
        s.SetMtime(P.SubsecondMtimeFile, P.SubsecondMtime);

        s.AddFile(P.XattrFile, "with xattrs\n");
        s.SetXattr(P.XattrFile, "user.comment", "conformance"u8);
        s.SetXattr(P.XattrFile, "user.binary", P.BinaryXattrValue);
        s.SetXattr(P.XattrFile, "trusted.test", "trusted-value"u8);
        s.SetXattr(P.XattrFile, "security.test", "security-value"u8);
        s.AddDirectory(P.XattrDirectory);
        s.SetXattr(P.XattrDirectory, "user.dir", "d"u8);

        s.AddSymlink(P.AbsoluteSymlink, "/etc/hostname");
        s.AddSymlink(P.RelativeSymlink, "../files/small");
        s.AddSymlink(P.DanglingSymlink, "does/not/exist");
        s.AddSymlink(P.EscapingSymlink, "../../../etc/passwd");
        s.AddSymlink(P.DirectorySymlink, "../files");

        s.AddFile(P.LayerHardlinks[0], "one inode, three names\n");
        s.AddHardLink(P.LayerHardlinks[0], P.LayerHardlinks[1]);
        s.AddHardLink(P.LayerHardlinks[0], P.LayerHardlinks[2]);

        s.AddDevice(P.CharacterDevice, block: false, 1, 3);
        s.AddDevice(P.BlockDevice, block: true, 7, 0);
        s.AddFifo(P.Fifo);

        s.AddFile(P.LongPathFile, "long path\n");
        s.AddSymlink(P.LongTargetSymlink, P.LongSymlinkTarget);

        s.AddSparseFile(P.SparseFile, P.SparseFileSize, P.SparseExtents);

        s.AddFile(P.WhitedOutFile, "whited out in layer 2\n");
        s.AddFile(P.WhitedOutDirectory + "/a", "a\n");
        s.AddFile(P.WhitedOutDirectory + "/sub/b", "b\n");
        s.AddFile(P.OpaqueHiddenPaths[0], "hidden by the opaque marker\n");
        s.AddFile(P.OpaqueHiddenPaths[2], "hidden too\n");
        s.AddFile(P.FileReplacedByDirectory, "a file, then a directory\n");
        s.AddFile(P.DirectoryReplacedByFile + "/child", "a directory, then a file\n");
        s.AddFile(P.CrossLayerTarget, "shared between layers\n");

        s.AddFile(P.RepackChmodFile, "chmod in the repack layer\n");
        s.AddFile(P.RepackDeletedFile, "deleted in the repack layer\n");
        s.ApplyTimes(P.DefaultMtime);
    }

    private static void StageUpper(StagingDirectory s)
    {
        // OCI image-layout spec, layer.md "Whiteouts": .wh.NAME deletes NAME of lower layers; .wh..wh..opq makes its
        // directory opaque (lower children hidden, this layer's children kept).
        s.AddDirectory("lower");
        s.AddFile("lower/.wh.victim-file", []);
        s.AddFile("lower/.wh.victim-dir", []);
        s.AddDirectory(P.OpaqueDirectory);
        s.AddFile(P.OpaqueDirectory + "/.wh..wh..opq", []);
        s.AddFile(P.OpaqueNewFile, "new in the opaque directory\n");
        s.AddFile(P.FileReplacedByDirectory + "/inner", "inside the directory that replaced a file\n");
        s.AddFile(P.DirectoryReplacedByFile, "a file where a directory was\n");

        // Same content, mode and time as in layer 1; its entry is deleted from the tar after archiving so the link
        // entry (archived later, "lower/" < "upper/") refers to layer 1's file.
        s.AddFile(P.CrossLayerTarget, "shared between layers\n");
        s.AddHardLink(P.CrossLayerTarget, P.CrossLayerHardlink);

        s.AddFile(P.GnuLongPathFile, "GNU long name\n");
        s.ApplyTimes(P.DefaultMtime);
    }

    private static void ChangeForRepack(string rootfs)
    {
        string added = Path.Combine(rootfs, P.RepackAddedFile);
        File.WriteAllText(added, "added by umoci repack\n");
        File.SetUnixFileMode(added, StagingDirectory.Mode("644"));
        Interop.UnixFile.SetModificationTime(added, P.DefaultMtime);
        File.SetUnixFileMode(Path.Combine(rootfs, P.RepackChmodFile), StagingDirectory.Mode("600"));
        File.Delete(Path.Combine(rootfs, P.RepackDeletedFile));
        Interop.UnixFile.SetModificationTime(Path.Combine(rootfs, "repack"), P.DefaultMtime);
    }

    private static Task TarAsync(string stage, string tarPath, string format, CancellationToken cancellationToken)
    {
        var arguments = new List<string>
        {
            "--create", "--file", tarPath, "--directory", stage, $"--format={format}",
            "--sparse", "--numeric-owner", "--sort=name",
        };
        if (format == "posix")
        {
            // Drop atime/ctime records so the tar depends only on what was staged.
            arguments.AddRange(["--xattrs", "--xattrs-include=*", "--pax-option=delete=atime,delete=ctime"]);
        }

        arguments.Add(".");
        return ExternalTool.RunAsync("tar", arguments, cancellationToken: cancellationToken);
    }

    private static Task AddLayerAsync(string image, string tarPath, string createdBy, CancellationToken cancellationToken)
        => ExternalTool.RunAsync("umoci", ["raw", "add-layer", "--image", image, "--history.created_by", createdBy, tarPath], cancellationToken: cancellationToken);

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
