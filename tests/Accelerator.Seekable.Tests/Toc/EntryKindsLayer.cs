using System.Text;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Testing.Tar;

namespace Accelerator.Seekable.Tests.Toc;

/// <summary>A small layer with every kind of tar entry and attribute the TOC formats carry, for the independent producers.</summary>
internal static class EntryKindsLayer
{
    /// <summary>The layer's tar.</summary>
    public static byte[] Tar()
    {
        var random = new Random(16);
        byte[] large = new byte[700_000];
        random.NextBytes(large);
        Array.Clear(large, 200_000, 200_000);
        return new TarBuilder()
            .AddDirectory("./")
            .AddDirectory("etc", uid: 0, gid: 0)
            .Add(new TarBuilderEntry { Path = "home/", TypeFlag = '5', Mode = (UnixFileMode)0x3C0, Uid = 1000, Gid = 1001, UserName = "user", GroupName = "staff" })
            .Add(new TarBuilderEntry { Path = "home/notes", Data = "notes\n"u8.ToArray(), Uid = 1000, Gid = 1001, UserName = "user", GroupName = "staff", ModificationNanoseconds = 123_456_789 })
            .AddFile("usr/bin/tool", large, mode: (UnixFileMode)0x9ED, xattrs: new Dictionary<string, byte[]>
            {
                ["security.capability"] = [1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                ["user.comment"] = "a tool"u8.ToArray(),
            })
            .AddHardLink("usr/bin/tool-link", "usr/bin/tool")
            .AddSymlink("usr/bin/alias", "tool")
            .AddFile("empty", [])
            .AddFile("dir with spaces/ünïcödé " + new string('n', 120), Encoding.UTF8.GetBytes("long name"))
            .AddCharacterDevice("dev/null", 1, 3)
            .AddBlockDevice("dev/sda", 8, 0)
            .AddFifo("run/fifo")
            .AddWhiteout("var/removed")
            .AddOpaque("opt")
            .ToArray();
    }

    /// <summary>Writes a one-layer OCI layout (uncompressed layer) holding <see cref="Tar"/>, tag <c>kinds</c>.</summary>
    public static async Task WriteLayoutAsync(string directory, byte[] tar)
    {
        var layout = OciImageLayout.Create(directory);
        var image = ImageReference.Parse($"oci:{directory}:kinds");
        var layer = Descriptor.FromContent(MediaTypes.OciLayer, tar);
        byte[] config = Encoding.UTF8.GetBytes($$$"""{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["{{{layer.Digest}}}"]}}""");
        var configDescriptor = Descriptor.FromContent(MediaTypes.OciConfig, config);
        byte[] manifest = Encoding.UTF8.GetBytes($$$"""
            {"schemaVersion":2,"mediaType":"{{{MediaTypes.OciManifest}}}",
             "config":{"mediaType":"{{{MediaTypes.OciConfig}}}","digest":"{{{configDescriptor.Digest}}}","size":{{{config.Length}}}},
             "layers":[{"mediaType":"{{{MediaTypes.OciLayer}}}","digest":"{{{layer.Digest}}}","size":{{{tar.Length}}}}]}
            """);
        await layout.PushBlobAsync(image, layer, new MemoryStream(tar));
        await layout.PushBlobAsync(image, configDescriptor, new MemoryStream(config));
        await layout.PushManifestAsync(image, ManifestDocument.Parse(manifest, MediaTypes.OciManifest), "kinds");
    }
}
