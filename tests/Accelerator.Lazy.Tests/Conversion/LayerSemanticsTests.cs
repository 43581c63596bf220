using Accelerator.Lazy.Tests.Support;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Testing.Tar;
using Accelerator.Testing.Trees;

namespace Accelerator.Lazy.Tests.Conversion;

/// <summary>
/// The converter's in-memory flattening against <see cref="LayerApplier"/> on disk, layer list by layer list: the tree
/// rebuilt from the lazy image equals the applier's, and where the applier refuses a layer the converter does too.
/// </summary>
public sealed class LayerSemanticsTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-lazy-semantics-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static readonly Dictionary<string, Func<byte[][]>> Scenarios = new()
    {
        ["parent through a relative symlink"] = () =>
        [
            new TarBuilder().AddDirectory("usr").AddDirectory("usr/lib").AddSymlink("lib", "usr/lib").ToArray(),
            new TarBuilder().AddFile("lib/libx.so", "x").ToArray(),
        ],
        ["parent through an absolute symlink climbing out"] = () =>
        [
            new TarBuilder().AddDirectory("usr").AddDirectory("usr/lib").AddDirectory("etc").AddSymlink("etc/lib", "../../../../usr/lib").ToArray(),
            new TarBuilder().AddFile("etc/lib/liby.so", "y").AddSymlink("abs", "/usr").AddFile("abs/lib/libz.so", "z").ToArray(),
        ],
        ["whiteouts hide lower layers only"] = () =>
        [
            new TarBuilder().AddDirectory("d").AddFile("d/lower", "1").AddFile("d/gone", "2").ToArray(),
            new TarBuilder().AddDirectory("d").AddFile("d/same", "3").AddWhiteout("d/same").AddWhiteout("d/gone").AddWhiteout("d/never").ToArray(),
        ],
        ["opaque directory keeps this layer's subtree"] = () =>
        [
            new TarBuilder().AddDirectory("d").AddFile("d/a", "a").AddDirectory("d/sub").AddFile("d/sub/b", "b").ToArray(),
            new TarBuilder().AddDirectory("d").AddDirectory("d/sub").AddFile("d/sub/c", "c").AddOpaque("d").ToArray(),
        ],
        ["hard link keeps the old inode when the name is replaced"] = () =>
        [
            new TarBuilder().AddFile("a", "old").ToArray(),
            new TarBuilder().AddHardLink("b", "a").ToArray(),
            new TarBuilder().AddFile("a", "new").ToArray(),
        ],
        ["directory over directory merges xattrs, sets mode and owner"] = () =>
        [
            new TarBuilder().Add(new TarBuilderEntry { Path = "d/", TypeFlag = '5', Mode = (UnixFileMode)0x1ED, ExtendedAttributes = new Dictionary<string, byte[]> { ["user.a"] = [1] } }).AddFile("d/f", "f").ToArray(),
            new TarBuilder().Add(new TarBuilderEntry { Path = "d/", TypeFlag = '5', Mode = (UnixFileMode)0x3C0, Uid = 7, Gid = 8, ExtendedAttributes = new Dictionary<string, byte[]> { ["user.b"] = [2] } }).ToArray(),
        ],
        ["type changes and the root's own entry"] = () =>
        [
            new TarBuilder().AddDirectory("./", (UnixFileMode)0x1C0).AddFile("f", "file").AddDirectory("d").AddFile("d/x", "x").ToArray(),
            new TarBuilder().AddDirectory("f").AddFile("f/inner", "i").AddFile("d", "now a file").AddSymlink("s", "d").ToArray(),
        ],
    };

    private static readonly Dictionary<string, Func<byte[][]>> Refused = new()
    {
        ["hard link to a missing file"] = () => [new TarBuilder().AddHardLink("b", "missing").ToArray()],
        ["hard link to a directory"] = () => [new TarBuilder().AddDirectory("d").AddHardLink("b", "d").ToArray()],
        ["symbolic link loop in a parent"] = () => [new TarBuilder().AddSymlink("a", "b").AddSymlink("b", "a").AddFile("a/x", "x").ToArray()],
        ["dangling symbolic link as a parent"] = () => [new TarBuilder().AddSymlink("a", "nowhere").AddFile("a/x", "x").ToArray()],
        ["file as a parent"] = () => [new TarBuilder().AddFile("f", "f").AddFile("f/x", "x").ToArray()],
        ["root as a file"] = () => [new TarBuilder().AddFile("./", "x").ToArray()],
    };

    public static TheoryData<string> Accepted() => [.. Scenarios.Keys];

    public static TheoryData<string> Rejected() => [.. Refused.Keys];

    [Theory]
    [MemberData(nameof(Accepted))]
    public async Task ConvertAsync_Layers_SameTreeAsLayerApplier(string scenario)
    {
        byte[][] layers = Scenarios[scenario]();
        string applied = Directory.CreateDirectory(Path.Combine(_work, "applied")).FullName;
        foreach (byte[] layer in layers)
        {
            await LayerApplier.ApplyAsync(new MemoryStream(layer), LayerCompression.None, applied);
        }

        var source = await TestImages.WriteAsync(Path.Combine(_work, "src"), "v1", layers);
        var (_, image) = await Conversions.ToLayoutAsync(source, Path.Combine(_work, "dst"));
        string rebuilt = Path.Combine(_work, "rebuilt");
        await TreeMaterializer.MaterializeAsync(image, rebuilt);

        // A directory reached through a symbolic link gets "now" as its time from the applier (it restores the link's
        // time, not the directory's); times of the root differ as the applier's root predates the layers. Everything
        // else is compared.
        var options = new TreeCompareOptions { IgnorePath = p => p == "." }.Without(TreeFields.DirectoryMtime);
        var differences = TreeSnapshot.Compare(TreeSnapshot.Capture(applied), TreeSnapshot.Capture(rebuilt), options);
        Assert.True(differences.Count == 0, string.Join("\n", differences));
    }

    [Theory]
    [MemberData(nameof(Rejected))]
    public async Task ConvertAsync_LayersTheApplierRefuses_FailsToo(string scenario)
    {
        byte[][] layers = Refused[scenario]();
        string applied = Directory.CreateDirectory(Path.Combine(_work, "applied")).FullName;
        var applierError = await Record.ExceptionAsync(async () =>
        {
            foreach (byte[] layer in layers)
            {
                await LayerApplier.ApplyAsync(new MemoryStream(layer), LayerCompression.None, applied);
            }
        });
        var source = await TestImages.WriteAsync(Path.Combine(_work, "src"), "v1", layers);

        var converterError = await Record.ExceptionAsync(() => Conversions.ToLayoutAsync(source, Path.Combine(_work, "dst")));

        Assert.NotNull(applierError);
        Assert.NotNull(converterError);
        Assert.Equal(applierError.GetType(), converterError.GetType());
    }
}
